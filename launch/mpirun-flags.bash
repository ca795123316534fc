# Sourced by launch/local, launch/hostfile and launch/slurm.sbatch: what every rank gets,
# in one place, and the mpirun flags that carry it. Sets `mpirun_flags` (an array).
#
# - OPENBLAS_NUM_THREADS=1 and OMP_NUM_THREADS=1 (oneDNN's OpenMP) unless the caller set
#   them: the ranks are the parallelism.
# - OMPI_MCA_odls_base_sigkill_timeout=0: when one rank fails, the others end at once
#   instead of a second later (Open MPI hands OMPI_MCA_ variables to its remote daemons).
# - --allow-run-as-root when run as root (mpirun refuses to start otherwise).
# - -x for each variable a rank reads, so that ranks started on other machines (ssh, srun)
#   see the same values as those started here.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export OMPI_MCA_odls_base_sigkill_timeout="${OMPI_MCA_odls_base_sigkill_timeout:-0}"
mpirun_flags=()
[ "$(id -u)" = 0 ] && mpirun_flags+=(--allow-run-as-root)
for variable in OPENBLAS_NUM_THREADS OMP_NUM_THREADS OPENBLAS_CORETYPE OPENBLAS_L2_SIZE \
                DISTCONV_KEEP_BLAS_CORE SWIFT_BACKTRACE; do
  [ -n "${!variable:-}" ] && mpirun_flags+=(-x "$variable")
done
unset variable
