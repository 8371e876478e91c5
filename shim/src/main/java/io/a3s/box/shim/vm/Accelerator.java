package io.a3s.box.shim.vm;

/** How a VM's vCPUs run. */
public enum Accelerator {
    /** KVM where it really works on this host, TCG otherwise (see the backend's probe). */
    AUTO,
    /** Hardware virtualization through /dev/kvm. Fails to boot on hosts where KVM is unusable. */
    KVM,
    /** QEMU's software emulation: slow (a boot takes seconds) but works everywhere. */
    TCG
}
