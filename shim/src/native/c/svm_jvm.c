/* The JVM_ functions of the JDK's native libraries that a SubstrateVM image serves itself (SubstrateVM's
 * CLibrary "jvm"). Built twice: into libjvm.a for the image, and into the libjvm.so the JDK's shared libraries
 * name, where every other JVM_ function they import stops the process with its name (jvm_stubs.c). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <jni.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

void initialize(void) {}

JNIEXPORT jint JNICALL JVM_ActiveProcessorCount(void) {
  cpu_set_t s;
  return sched_getaffinity(0, sizeof s, &s) == 0 ? CPU_COUNT(&s) : (jint)sysconf(_SC_NPROCESSORS_ONLN);
}
JNIEXPORT jlong JNICALL JVM_CurrentTimeMillis(JNIEnv *env, jclass c) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (jlong)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}
JNIEXPORT jlong JNICALL JVM_NanoTime(JNIEnv *env, jclass c) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (jlong)t.tv_sec * 1000000000L + t.tv_nsec;
}
JNIEXPORT void *JNICALL JVM_RegisterSignal(jint sig, void *handler) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = (void (*)(int))handler;
  sigemptyset(&sa.sa_mask);
  return sigaction(sig, &sa, &old) == 0 ? (void *)old.sa_handler : (void *)-1;
}
JNIEXPORT jboolean JNICALL JVM_RaiseSignal(jint sig) { return raise(sig) == 0; }
JNIEXPORT jint JNICALL JVM_FindSignal(const char *name) {
  static const struct { const char *n; int s; } t[] = {
    {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"TERM", SIGTERM}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE}, {"CHLD", SIGCHLD}, {"ALRM", SIGALRM}, {"WINCH", SIGWINCH}, {"CONT", SIGCONT}, {"TRAP", SIGTRAP}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) if (!strcmp(t[i].n, name)) return t[i].s;
  return -1;
}
JNIEXPORT void *JNICALL JVM_LoadLibrary(const char *name, jboolean throwException) { return dlopen(name, RTLD_LAZY); }
JNIEXPORT void JNICALL JVM_UnloadLibrary(void *handle) { dlclose(handle); }
JNIEXPORT void *JNICALL JVM_FindLibraryEntry(void *handle, const char *name) { return dlsym(handle, name); }
JNIEXPORT jboolean JNICALL JVM_IsSupportedJNIVersion(jint v) {
  return v == JNI_VERSION_1_1 || v == JNI_VERSION_1_2 || v == JNI_VERSION_1_4 || v == JNI_VERSION_1_6 ||
         v == JNI_VERSION_1_8 || v == JNI_VERSION_9 || v == JNI_VERSION_10 || v == JNI_VERSION_19 || v == JNI_VERSION_20 ||
         v == JNI_VERSION_21 || v == JNI_VERSION_24;
}
JNIEXPORT void JNICALL JVM_Halt(jint code) { exit(code); }
JNIEXPORT void JNICALL JVM_BeforeHalt(void) {}
JNIEXPORT jboolean JNICALL JVM_IsContainerized(void) { return JNI_FALSE; }
JNIEXPORT jboolean JNICALL JVM_IsUseContainerSupport(void) { return JNI_FALSE; }
JNIEXPORT char *JNICALL JVM_NativePath(char *path) { return path; }
JNIEXPORT int jio_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap) {
  if ((intptr_t)n <= 0) return -1;
  int r = vsnprintf(buf, n, fmt, ap);
  buf[n - 1] = 0;
  return r < 0 || (size_t)r >= n ? -1 : r;
}
JNIEXPORT int jio_vfprintf(FILE *f, const char *fmt, va_list ap) { return vfprintf(f, fmt, ap); }
JNIEXPORT int jio_snprintf(char *buf, size_t n, const char *fmt, ...) {
  va_list ap; va_start(ap, fmt); int r = jio_vsnprintf(buf, n, fmt, ap); va_end(ap); return r;
}
JNIEXPORT int jio_fprintf(FILE *f, const char *fmt, ...) {
  va_list ap; va_start(ap, fmt); int r = vfprintf(f, fmt, ap); va_end(ap); return r;
}
