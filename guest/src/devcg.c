/* The device allowlist of a container (linux.resources.devices) on cgroup v2: a small
 * BPF_PROG_TYPE_CGROUP_DEVICE program attached to the container's cgroup, as runc does.
 *
 * The rules mean what they meant for the cgroup v1 devices controller, applied in order to a list that
 * starts as "deny everything": an "a" rule resets the default (allow or deny all) and forgets the
 * exceptions; any other rule that agrees with the default removes the access it names from the exception
 * of exactly that type and numbers, and one that disagrees adds an exception. The program then checks
 * the exceptions in order and falls back to the default:
 *
 *   default deny:  allowed if one exception matches the device and grants every access asked for;
 *   default allow: denied if one exception matches the device and names any access asked for.
 *
 * The context the kernel passes (struct bpf_cgroup_dev_ctx) is the access in the high 16 bits and the
 * device type in the low 16 bits of the first word, then major and minor. */
#include "devcg.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct exc {
    uint32_t type;      /* BPF_DEVCG_DEV_CHAR or _BLOCK */
    int64_t major;      /* -1: any */
    int64_t minor;
    uint32_t access;    /* BPF_DEVCG_ACC_* bits */
};

static int parse_access(const char *s, uint32_t *out)
{
    uint32_t a = 0;
    if (!s || !s[0])
        s = "rwm";
    for (; *s; s++) {
        switch (*s) {
        case 'r': a |= BPF_DEVCG_ACC_READ; break;
        case 'w': a |= BPF_DEVCG_ACC_WRITE; break;
        case 'm': a |= BPF_DEVCG_ACC_MKNOD; break;
        default: return -EINVAL;
        }
    }
    *out = a;
    return 0;
}

/* The rules applied to the v1 list: *default_allow and the exceptions (at most n). */
static int emulate(A3s__Guest__V1__DeviceRule *const *rules, size_t n, bool *default_allow, struct exc *ex,
                   size_t *n_ex, char *err, size_t errlen)
{
    *default_allow = false;
    *n_ex = 0;
    for (size_t i = 0; i < n; i++) {
        const A3s__Guest__V1__DeviceRule *r = rules[i];
        uint32_t access;
        if (parse_access(r->access, &access) < 0) {
            snprintf(err, errlen, "device rule %zu: access `%s` is not made of r, w, m", i, r->access);
            return -EINVAL;
        }
        const char *t = r->type && r->type[0] ? r->type : "a";
        if (strcmp(t, "a") == 0) {
            *default_allow = r->allow;
            *n_ex = 0;
            continue;
        }
        if (strcmp(t, "c") != 0 && strcmp(t, "b") != 0) {
            snprintf(err, errlen, "device rule %zu: type `%s` is not a, c or b", i, t);
            return -EINVAL;
        }
        struct exc e = {
            .type = t[0] == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK,
            .major = PB_HAS(r, major) ? (int64_t)r->major : -1,
            .minor = PB_HAS(r, minor) ? (int64_t)r->minor : -1,
            .access = access,
        };
        size_t k = 0;
        while (k < *n_ex && !(ex[k].type == e.type && ex[k].major == e.major && ex[k].minor == e.minor))
            k++;
        if (r->allow == *default_allow) {
            /* agrees with the default: take the access out of the same exception */
            if (k < *n_ex) {
                ex[k].access &= ~e.access;
                if (!ex[k].access) {
                    memmove(&ex[k], &ex[k + 1], (*n_ex - k - 1) * sizeof(*ex));
                    (*n_ex)--;
                }
            }
        } else if (k < *n_ex) {
            ex[k].access |= e.access;
        } else {
            ex[(*n_ex)++] = e;
        }
    }
    return 0;
}

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define ALU_K(op, d, i) INSN(BPF_ALU64 | (op) | BPF_K, d, 0, 0, i)
#define MOV_X(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define JMP_K(op, d, i, o) INSN(BPF_JMP | (op) | BPF_K, d, 0, o, i)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* r2 = type|access word, r3 = type, r4 = access, r5 = major, r6 = minor; r7 scratch; r0 the verdict. */
static size_t gen(bool default_allow, const struct exc *ex, size_t n_ex, struct bpf_insn *p)
{
    size_t n = 0;
    p[n++] = LDX_W(BPF_REG_2, BPF_REG_1, 0);
    p[n++] = MOV_X(BPF_REG_3, BPF_REG_2);
    p[n++] = ALU_K(BPF_AND, BPF_REG_3, 0xffff);
    p[n++] = MOV_X(BPF_REG_4, BPF_REG_2);
    p[n++] = ALU_K(BPF_RSH, BPF_REG_4, 16);
    p[n++] = LDX_W(BPF_REG_5, BPF_REG_1, 4);
    p[n++] = LDX_W(BPF_REG_6, BPF_REG_1, 8);
    for (size_t i = 0; i < n_ex; i++) {
        const struct exc *e = &ex[i];
        int checks = 1 + (e->major >= 0) + (e->minor >= 0);
        int left = checks + 5; /* instructions of this block still ahead, counting the current one */
        p[n++] = JMP_K(BPF_JNE, BPF_REG_3, (int32_t)e->type, left - 1);
        left--;
        if (e->major >= 0) {
            p[n++] = JMP_K(BPF_JNE, BPF_REG_5, (int32_t)e->major, left - 1);
            left--;
        }
        if (e->minor >= 0) {
            p[n++] = JMP_K(BPF_JNE, BPF_REG_6, (int32_t)e->minor, left - 1);
            left--;
        }
        p[n++] = MOV_X(BPF_REG_7, BPF_REG_4);
        if (default_allow) {
            /* a deny exception: any access it names is refused */
            p[n++] = ALU_K(BPF_AND, BPF_REG_7, (int32_t)e->access);
            p[n++] = JMP_K(BPF_JEQ, BPF_REG_7, 0, 2);
            p[n++] = ALU_K(BPF_MOV, BPF_REG_0, 0);
        } else {
            /* an allow exception: it must grant all of the access asked for */
            p[n++] = ALU_K(BPF_AND, BPF_REG_7, (int32_t)(~e->access & 7));
            p[n++] = JMP_K(BPF_JNE, BPF_REG_7, 0, 2);
            p[n++] = ALU_K(BPF_MOV, BPF_REG_0, 1);
        }
        p[n++] = EXIT();
    }
    p[n++] = ALU_K(BPF_MOV, BPF_REG_0, default_allow ? 1 : 0);
    p[n++] = EXIT();
    return n;
}

int devcg_check(A3s__Guest__V1__DeviceRule *const *rules, size_t n, char *err, size_t errlen)
{
    struct exc *ex = xcalloc(n ? n : 1, sizeof(*ex));
    bool dflt;
    size_t n_ex;
    int r = emulate(rules, n, &dflt, ex, &n_ex, err, errlen);
    free(ex);
    return r;
}

/* Loads a device program; -errno, with the verifier's log on the console when it refuses it. */
static int load(const struct bpf_insn *prog, size_t n_insn)
{
    static char vlog[4096];
    union bpf_attr load;
    memset(&load, 0, sizeof(load));
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = (uint64_t)(uintptr_t)prog;
    load.insn_cnt = (uint32_t)n_insn;
    load.license = (uint64_t)(uintptr_t)"Apache-2.0";
    snprintf(load.prog_name, sizeof(load.prog_name), "a3s_devices");
    int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load));
    if (fd < 0) {
        int e = errno;
        load.log_level = 1;
        load.log_buf = (uint64_t)(uintptr_t)vlog;
        load.log_size = sizeof(vlog);
        vlog[0] = '\0';
        if (syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load)) < 0 && vlog[0])
            log_warn("device program refused by the verifier: %s", vlog);
        return -e;
    }
    set_cloexec(fd, true);
    return fd;
}

/* The programs loaded last, by their instructions; the cache holds one fd of each. */
#define PROG_CACHE_SIZE 4
static struct {
    struct bpf_insn *insns;
    size_t n;
    int fd;
} prog_cache[PROG_CACHE_SIZE];
static size_t prog_cache_next;

/* A new fd of the cached program with these instructions, or -1. */
static int prog_cache_get(const struct bpf_insn *prog, size_t n)
{
    for (size_t i = 0; i < PROG_CACHE_SIZE; i++)
        if (prog_cache[i].insns && prog_cache[i].n == n && !memcmp(prog_cache[i].insns, prog, n * sizeof(*prog)))
            return fcntl(prog_cache[i].fd, F_DUPFD_CLOEXEC, 0);
    return -1;
}

static void prog_cache_put(const struct bpf_insn *prog, size_t n, int fd)
{
    int keep = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (keep < 0)
        return;
    size_t i = prog_cache_next++ % PROG_CACHE_SIZE;
    if (prog_cache[i].insns) {
        free(prog_cache[i].insns);
        close(prog_cache[i].fd);
    }
    prog_cache[i].insns = xmalloc(n * sizeof(*prog));
    memcpy(prog_cache[i].insns, prog, n * sizeof(*prog));
    prog_cache[i].n = n;
    prog_cache[i].fd = keep;
}

int devcg_apply(const char *cgroup_dir, A3s__Guest__V1__DeviceRule *const *rules, size_t n, int *prog_fd,
                char *err, size_t errlen)
{
    struct exc *ex = xcalloc(n ? n : 1, sizeof(*ex));
    bool dflt;
    size_t n_ex;
    int r = emulate(rules, n, &dflt, ex, &n_ex, err, errlen);
    if (r < 0) {
        free(ex);
        return r;
    }
    /* Majors and minors above 2^31 name no device (dev_t has 12 + 20 bits) and do not fit an immediate. */
    size_t k = 0;
    for (size_t i = 0; i < n_ex; i++)
        if (ex[i].major <= INT32_MAX && ex[i].minor <= INT32_MAX)
            ex[k++] = ex[i];
    n_ex = k;
    struct bpf_insn *prog = xcalloc(9 + n_ex * 8, sizeof(*prog));
    size_t n_insn = gen(dflt, ex, n_ex, prog);
    free(ex);

    /* A new cgroup takes a program of the cache when one has the same instructions: loading one runs the
     * verifier, a few ms under TCG, and nearly every container of a host has the same rules (its runtime's
     * defaults). An update replaces the cgroup's own program, so it always loads one of its own. */
    int fd = *prog_fd < 0 ? prog_cache_get(prog, n_insn) : -1;
    if (fd < 0) {
        fd = load(prog, n_insn);
        if (fd < 0) {
            int e = -fd;
            free(prog);
            snprintf(err, errlen, "load the device program (%zu instructions)", n_insn);
            return -e;
        }
        if (*prog_fd < 0)
            prog_cache_put(prog, n_insn, fd);
    }
    free(prog);

    int cg = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg < 0) {
        int e = errno;
        close(fd);
        snprintf(err, errlen, "open cgroup `%s`", cgroup_dir);
        return -e;
    }
    union bpf_attr at;
    memset(&at, 0, sizeof(at));
    at.target_fd = (uint32_t)cg;
    at.attach_bpf_fd = (uint32_t)fd;
    at.attach_type = BPF_CGROUP_DEVICE;
    at.attach_flags = BPF_F_ALLOW_MULTI;
    if (*prog_fd >= 0) {
        /* an update: swap the programs in one step, so no device access sees neither */
        at.attach_flags |= BPF_F_REPLACE;
        at.replace_bpf_fd = (uint32_t)*prog_fd;
    }
    if (syscall(SYS_bpf, BPF_PROG_ATTACH, &at, sizeof(at)) < 0) {
        int e = errno;
        close(cg);
        close(fd);
        snprintf(err, errlen, "attach the device program to `%s`", cgroup_dir);
        return -e;
    }
    close(cg);
    if (*prog_fd >= 0)
        close(*prog_fd);
    *prog_fd = fd;
    log_debug("cgroup `%s`: device program of %zu instructions (%zu exceptions, default %s)", cgroup_dir, n_insn,
              n_ex, dflt ? "allow" : "deny");
    return 0;
}
