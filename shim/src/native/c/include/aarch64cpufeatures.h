/* CPU features of aarch64, one byte each (this build targets amd64; the header makes the layout query complete) */
#ifndef A3S_AARCH64CPUFEATURES_H
#define A3S_AARCH64CPUFEATURES_H
typedef struct {
  char fA53MAC;
  char fAES;
  char fASIMD;
  char fASIMDHP;
  char fCRC32;
  char fDCPOP;
  char fDMB_ATOMICS;
  char fEVTSTRM;
  char fFP;
  char fFPHP;
  char fLSE;
  char fPACA;
  char fPMULL;
  char fSHA1;
  char fSHA2;
  char fSHA3;
  char fSHA512;
  char fSTXR_PREFETCH;
  char fSVE;
  char fSVE2;
  char fSVEBITPERM;
} CPUFeatures;
#endif
