/* The builder's progress reporter asks this library for the terminal's width and the peak RSS (SubstrateVM loads it
 * from <java.home>/lib/svm/builder/lib; scripts/build-native builds it into its copy of the JDK). */
#include <jni.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>
JNIEXPORT jint JNICALL Java_com_oracle_svm_hosted_ProgressReporterCHelper_getTerminalWindowColumns0(JNIEnv *e, jclass c) {
  struct winsize w; if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0) return w.ws_col; return -1; }
JNIEXPORT jlong JNICALL Java_com_oracle_svm_hosted_ProgressReporterCHelper_getPeakRSS0(JNIEnv *e, jclass c) {
  struct rusage u; if (getrusage(RUSAGE_SELF, &u) == 0) return (jlong)u.ru_maxrss * 1024; return -1; }
