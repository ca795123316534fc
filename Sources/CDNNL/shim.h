// oneDNN's C API (Debian libdnnl-dev 2.6, no pkg-config file), and what Swift cannot
// import from it: the DNNL_MEMORY_ALLOCATE macro (a pointer cast) and OpenMP's thread
// count, which libdnnl's libgomp provides at run time (looked up with dlsym, so the
// package does not need libgomp's development link).
#ifndef DISTCONV_CDNNL_SHIM_H
#define DISTCONV_CDNNL_SHIM_H

#include <oneapi/dnnl/dnnl.h>
#include <dlfcn.h>

static inline void *distconv_dnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }

/// Sets OpenMP's thread count for the calling thread's later parallel regions; returns
/// 0 when the OpenMP runtime was not found.
static inline int distconv_omp_set_num_threads(int n) {
    void (*set)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    if (!set) return 0;
    set(n);
    return 1;
}

/// OpenMP's thread count for the next parallel region, or 0 without an OpenMP runtime.
static inline int distconv_omp_get_max_threads(void) {
    int (*get)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    return get ? get() : 0;
}

#endif
