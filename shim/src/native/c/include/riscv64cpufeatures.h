/* CPU features of riscv64, one byte each (this build targets amd64; the header makes the layout query complete) */
#ifndef A3S_RISCV64CPUFEATURES_H
#define A3S_RISCV64CPUFEATURES_H
typedef struct {
  char fA;
  char fC;
  char fD;
  char fF;
  char fI;
  char fM;
  char fV;
} CPUFeatures;
#endif
