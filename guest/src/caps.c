/* Capabilities of a container process: bounding set (dropped while still root), then effective,
 * permitted and inheritable (capset, after the uid change with PR_SET_KEEPCAPS), then ambient. Unknown
 * capability names are skipped with a warning (a newer spec on an older kernel), as runc does, and so is an
 * ambient capability that cannot be raised. */
#include "container.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const cap_names[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

int caps_last_cap(void)
{
    static int cached = -1;
    if (cached >= 0)
        return cached;
    char *s = NULL;
    uint64_t v;
    cached = (int)ARRAY_SIZE(cap_names) - 1;
    if (read_file("/proc/sys/kernel/cap_last_cap", &s, NULL) == 0 && parse_u64(s, &v) == 0 && v < 64)
        cached = (int)v;
    free(s);
    return cached;
}

int cap_from_name(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
        if (strcmp(cap_names[i], name) == 0)
            return (int)i;
    return -1;
}

static uint64_t mask_of(char **names, size_t n)
{
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int c = cap_from_name(names[i]);
        if (c < 0 || c > caps_last_cap()) {
            log_warn("unknown capability `%s` skipped", names[i]);
            continue;
        }
        m |= 1ull << c;
    }
    return m;
}

bool caps_has(const A3s__Guest__V1__Capabilities *caps, int cap)
{
    return (mask_of(caps->effective, caps->n_effective) >> cap) & 1;
}

int caps_drop_bounding(const A3s__Guest__V1__Capabilities *caps, char *err, size_t errlen)
{
    uint64_t keep = mask_of(caps->bounding, caps->n_bounding);
    for (int c = 0; c <= caps_last_cap(); c++) {
        if ((keep >> c) & 1)
            continue;
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) {
            int e = errno;
            snprintf(err, errlen, "drop %s from the bounding set", c < (int)ARRAY_SIZE(cap_names) ? cap_names[c] : "?");
            return -e;
        }
    }
    return 0;
}

int caps_apply(const A3s__Guest__V1__Capabilities *caps, char *err, size_t errlen)
{
    uint64_t eff = mask_of(caps->effective, caps->n_effective);
    uint64_t perm = mask_of(caps->permitted, caps->n_permitted);
    uint64_t inh = mask_of(caps->inheritable, caps->n_inheritable);
    uint64_t amb = mask_of(caps->ambient, caps->n_ambient);
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2] = {
        { .effective = (uint32_t)eff, .permitted = (uint32_t)perm, .inheritable = (uint32_t)inh },
        { .effective = (uint32_t)(eff >> 32), .permitted = (uint32_t)(perm >> 32), .inheritable = (uint32_t)(inh >> 32) },
    };
    if (syscall(SYS_capset, &hdr, data) < 0) {
        int e = errno;
        snprintf(err, errlen, "capset (effective %#llx, permitted %#llx, inheritable %#llx)",
                 (unsigned long long)eff, (unsigned long long)perm, (unsigned long long)inh);
        return -e;
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
        int e = errno;
        snprintf(err, errlen, "clear the ambient set");
        return -e;
    }
    for (int c = 0; c <= caps_last_cap(); c++) {
        if (!((amb >> c) & 1))
            continue;
        /* As runc: a warning, not a failure (e.g. a capability not in the inheritable set cannot be raised). */
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
            log_warn("can't raise ambient capability %s: %s", cap_names[c], strerror(errno));
    }
    return 0;
}

bool caps_effective_has(int cap)
{
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) < 0)
        return false;
    return (data[cap / 32].effective >> (cap % 32)) & 1;
}
