// Halo-exchange benchmark (issue 4): arrives with the redistribution executor.
print("bench-halo: not built yet")
