/* The C helpers a SubstrateVM image calls (CLibrary "libchelper"), written for a3s-box's native daemon. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jni.h>
#include <limits.h>
#include <locale.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "amd64cpufeatures.h"
#include "svm_locale.h"

extern char **environ;
char **getEnviron(void) { return environ; }

int getThreadId(void) { return (int)syscall(SYS_gettid); }

/* CPU time in user mode of thread tid, in ns: field 14 of its stat line. */
long getThreadUserTimeSlow(int tid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  unsigned long utime = 0;
  /* after ") " come state (field 3) ... utime (field 14) */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu", &utime) != 1) return -1;
  return (long)(utime * (1000000000L / sysconf(_SC_CLK_TCK)));
}

void *mremapP(void *old, size_t oldsize, size_t newsize, int flags, void *newaddr) {
  return mremap(old, oldsize, newsize, flags, newaddr);
}
int openSII(const char *path, int flags, int mode) { return open(path, flags, mode); }
int openatISII(int dirfd, const char *path, int flags, int mode) { return openat(dirfd, path, flags, mode); }
int fprintfSD(FILE *f, const char *fmt, const char *s, int d) { return fprintf(f, fmt, s, d); }

/* The time zone id as the JDK finds it on Linux: $TZ, /etc/timezone, or the zoneinfo file /etc/localtime links to. */
char *SVM_FindJavaTZmd(const char *java_home, int len) {
  (void)java_home; (void)len;
  const char *tz = getenv("TZ");
  if (tz && *tz) return strdup(tz[0] == ':' ? tz + 1 : tz);
  char buf[PATH_MAX];
  FILE *f = fopen("/etc/timezone", "r");
  if (f) {
    char *line = fgets(buf, sizeof buf, f);
    fclose(f);
    if (line) {
      line[strcspn(line, " \t\n")] = 0;
      if (*line) return strdup(line);
    }
  }
  ssize_t n = readlink("/etc/localtime", buf, sizeof buf - 1);
  if (n > 0) {
    buf[n] = 0;
    char *z = strstr(buf, "zoneinfo/");
    if (z) return strdup(z + strlen("zoneinfo/"));
  }
  return strdup("UTC");
}

/* Locale: language and country of LC_CTYPE (format) and LC_MESSAGES (display), as "ll_CC.enc@variant". */
static svm_locale_props_t props;
static void parse(const char *lc, char **lang, char **script, char **country, char **variant) {
  if (!lc || !strcmp(lc, "C") || !strcmp(lc, "POSIX")) lc = "en_US";
  char *s = strdup(lc), *at = strchr(s, '@'), *dot, *us;
  if (at) *at++ = 0;
  if ((dot = strchr(s, '.'))) *dot = 0;
  if ((us = strchr(s, '_'))) *us++ = 0;
  *lang = strdup(s);
  *script = strdup("");
  *country = strdup(us ? us : "");
  *variant = strdup(at ? at : "");
  free(s);
}
int svm_initialize_locale(void) {
  setlocale(LC_ALL, "");
  parse(setlocale(LC_CTYPE, NULL), &props.format_language, &props.format_script, &props.format_country, &props.format_variant);
  parse(setlocale(LC_MESSAGES, NULL), &props.display_language, &props.display_script, &props.display_country, &props.display_variant);
  return props.format_language && props.display_language ? SVM_LOCALE_INITIALIZATION_SUCCEEDED : SVM_LOCALE_INITIALIZATION_OUT_OF_MEMORY;
}
svm_locale_props_t *svm_get_locale(void) { return &props; }

/* sun.misc.Signal: the handler counts a signal and wakes the dispatcher thread, which takes the counts. */
static sem_t signal_sem;
static volatile int pending[NSIG];
static void signal_handler(int sig) {
  __atomic_add_fetch(&pending[sig], 1, __ATOMIC_SEQ_CST);
  sem_post(&signal_sem);
}
int cSunMiscSignal_open(void) { return sem_init(&signal_sem, 0, 0); }
int cSunMiscSignal_close(void) { return sem_destroy(&signal_sem); }
int cSunMiscSignal_awaitSemaphore(void) {
  int r;
  while ((r = sem_wait(&signal_sem)) == -1 && errno == EINTR) {}
  return r;
}
int cSunMiscSignal_signalSemaphore(void) { return sem_post(&signal_sem); }
int cSunMiscSignal_signalRangeCheck(int sig) { return sig > 0 && sig < NSIG; }
int cSunMiscSignal_checkPendingSignal(void) {
  for (int sig = 1; sig < NSIG; sig++) {
    int n = pending[sig];
    while (n > 0) {
      if (__atomic_compare_exchange_n(&pending[sig], &n, n - 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return sig;
    }
  }
  return -1;
}
void *cSunMiscSignal_signalHandlerFunctionPointer(void) { return (void *)signal_handler; }

/* CPU features: one byte each, 1 when the CPU (and, for vector state, the kernel) supports it. */
static int bit(unsigned r, int b) { return (r >> b) & 1; }
void determineCPUFeatures(CPUFeatures *f) {
  unsigned a, b, c, d, max, ext;
  memset(f, 0, sizeof *f);
  max = __get_cpuid_max(0, NULL);
  if (max < 1) return;
  __cpuid(1, a, b, c, d);
  f->fCX8 = bit(d, 8); f->fCMOV = bit(d, 15); f->fFXSR = bit(d, 24); f->fHT = bit(d, 28); f->fMMX = bit(d, 23);
  f->fSSE = bit(d, 25); f->fSSE2 = bit(d, 26); f->fTSC = bit(d, 4); f->fFLUSH = bit(d, 19);
  f->fSSE3 = bit(c, 0); f->fCLMUL = bit(c, 1); f->fSSSE3 = bit(c, 9); f->fSSE4_1 = bit(c, 19); f->fSSE4_2 = bit(c, 20);
  f->fPOPCNT = bit(c, 23); f->fAES = bit(c, 25); f->fHV = bit(c, 31);
  int osxsave = bit(c, 27);
  unsigned long long xcr0 = 0;
  if (osxsave) { unsigned lo, hi; __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0)); xcr0 = ((unsigned long long)hi << 32) | lo; }
  int ymm = osxsave && (xcr0 & 0x6) == 0x6, zmm = ymm && (xcr0 & 0xe0) == 0xe0;
  if (ymm) { f->fAVX = bit(c, 28); f->fFMA = bit(c, 12); f->fF16C = bit(c, 29); f->fVZEROUPPER = f->fAVX; }
  if (max >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f->fBMI1 = bit(b, 3); f->fBMI2 = bit(b, 8); f->fERMS = bit(b, 9); f->fADX = bit(b, 19); f->fSHA = bit(b, 29);
    f->fFLUSHOPT = bit(b, 23); f->fCLWB = bit(b, 24); f->fRDPID = bit(c, 22); f->fFSRM = bit(d, 4); f->fSERIALIZE = bit(d, 14);
    if (ymm) { f->fAVX2 = bit(b, 5); f->fGFNI = bit(c, 8); }
    if (zmm) {
      f->fAVX512F = bit(b, 16); f->fAVX512DQ = bit(b, 17); f->fAVX512_IFMA = bit(b, 21); f->fAVX512CD = bit(b, 28);
      f->fAVX512BW = bit(b, 30); f->fAVX512VL = bit(b, 31); f->fAVX512_VBMI = bit(c, 1); f->fAVX512_VBMI2 = bit(c, 6);
      f->fAVX512_VAES = bit(c, 9); f->fAVX512_VPCLMULQDQ = bit(c, 10); f->fAVX512_VNNI = bit(c, 11);
      f->fAVX512_BITALG = bit(c, 12); f->fAVX512_VPOPCNTDQ = bit(c, 14);
    }
  }
  ext = __get_cpuid_max(0x80000000, NULL);
  if (ext >= 0x80000001) {
    __cpuid(0x80000001, a, b, c, d);
    f->fLZCNT = bit(c, 5); f->fSSE4A = bit(c, 6); f->fAMD_3DNOW_PREFETCH = bit(c, 8); f->fRDTSCP = bit(d, 27);
  }
  if (ext >= 0x80000007) {
    __cpuid(0x80000007, a, b, c, d);
    f->fTSCINV_BIT = bit(d, 8); f->fTSCINV = f->fTSCINV_BIT;
  }
}

/* The image's mask holds 0xFE where it needs a feature and 0xFF elsewhere: OR-ed with the features, all ones. */
int checkCPUFeatures(const char *mask) {
  union { CPUFeatures f; unsigned char b[(sizeof(CPUFeatures) + 7) / 8 * 8]; } u;
  memset(&u, 0, sizeof u);
  determineCPUFeatures(&u.f);
  for (size_t i = 0; i < sizeof u.b; i++)
    if ((unsigned char)(u.b[i] | (unsigned char)mask[i]) != 0xff) return -1;
  return 0;
}
int checkCPUFeaturesOrExit(const char *mask, const char *message) {
  if (checkCPUFeatures(mask) == 0) return 0;
  fputs(message, stderr);
  exit(1);
}

/* The JDK's libraries are shared objects here, not the static archives SubstrateVM links by default: their
 * JNI_OnLoad_<name> (what a static JDK library defines) is the JNI_OnLoad of that shared object. */
static jint onload(const char *soname, JavaVM *vm, void *reserved) {
  void *h = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD);
  jint (*f)(JavaVM *, void *) = h ? (jint (*)(JavaVM *, void *))dlsym(h, "JNI_OnLoad") : NULL;
  /* A static library's JNI_OnLoad_<name> must answer 1.8 or later; the shared one answers what it needs. */
  jint v = f ? f(vm, reserved) : JNI_VERSION_1_8;
  return v < 0 ? v : JNI_VERSION_1_8;
}
JNIEXPORT jint JNICALL JNI_OnLoad_java(JavaVM *vm, void *r) { return onload("libjava.so", vm, r); }
JNIEXPORT jint JNICALL JNI_OnLoad_nio(JavaVM *vm, void *r) { return onload("libnio.so", vm, r); }
JNIEXPORT jint JNICALL JNI_OnLoad_net(JavaVM *vm, void *r) { return onload("libnet.so", vm, r); }
JNIEXPORT jint JNICALL JNI_OnLoad_zip(JavaVM *vm, void *r) { return onload("libzip.so", vm, r); }
JNIEXPORT jint JNICALL JNI_OnLoad_extnet(JavaVM *vm, void *r) { return onload("libextnet.so", vm, r); }
