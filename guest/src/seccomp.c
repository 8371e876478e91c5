/* seccomp filters from the spec, with libseccomp. Built before the process parks (so a bad profile fails
 * CreateContainer/ExecProcess), loaded as the last step before execve (see container.c for the one
 * exception). Syscall names this libseccomp or architecture does not know are skipped with a log line,
 * as runc does; unknown actions, operators or architectures are errors.
 *
 * As runc (libcontainer/seccomp/patchbpf), a profile that does not allow by default gets a stub in front of
 * libseccomp's program: an x86_64 syscall numbered above every syscall the profile names fails with ENOSYS
 * instead of the default action. A profile older than the program that runs under it then says "no such
 * syscall", which libc falls back from (glibc 2.39's fchmodat2, say), where EPERM is a hard failure. */
#include "container.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* What seccomp_prepare hands seccomp_install. */
struct filter {
    scmp_filter_ctx ctx;
    int max_nr;         /* the highest x86_64 syscall number the profile names; -1: none */
    bool enosys_stub;   /* the default action is not permissive, nor ENOSYS already */
    unsigned int flags; /* SECCOMP_FILTER_FLAG_* for seccomp(2), as libseccomp would pass them */
};

#define X32_SYSCALL_BIT 0x40000000u

/* Counts a syscall the profile names, whatever its rule's action, for the stub (runc's findLastSyscalls). */
static void note_syscall(struct filter *f, const char *name)
{
    int nr64 = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name);
    if (nr64 > f->max_nr)
        f->max_nr = nr64;
}

static int parse_action(const char *name, bool has_ret, uint32_t ret, uint32_t *out)
{
    if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
        *out = SCMP_ACT_KILL_THREAD;
    else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
        *out = SCMP_ACT_KILL_PROCESS;
    else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
        *out = SCMP_ACT_TRAP;
    else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
        *out = SCMP_ACT_ERRNO(has_ret ? ret : EPERM);
    else if (strcmp(name, "SCMP_ACT_TRACE") == 0)
        *out = SCMP_ACT_TRACE(has_ret ? ret : EPERM);
    else if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
        *out = SCMP_ACT_ALLOW;
    else if (strcmp(name, "SCMP_ACT_LOG") == 0)
        *out = SCMP_ACT_LOG;
    else
        return -EINVAL;
    return 0;
}

static int parse_op(const char *name, enum scmp_compare *out)
{
    static const struct { const char *name; enum scmp_compare op; } t[] = {
        { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT }, { "SCMP_CMP_LE", SCMP_CMP_LE },
        { "SCMP_CMP_EQ", SCMP_CMP_EQ }, { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
        { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
    };
    for (size_t i = 0; i < ARRAY_SIZE(t); i++)
        if (strcmp(t[i].name, name) == 0) {
            *out = t[i].op;
            return 0;
        }
    return -EINVAL;
}

static uint32_t parse_arch(const char *name)
{
    static const struct { const char *name; uint32_t arch; } t[] = {
        { "SCMP_ARCH_X86", SCMP_ARCH_X86 }, { "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64 },
        { "SCMP_ARCH_X32", SCMP_ARCH_X32 }, { "SCMP_ARCH_ARM", SCMP_ARCH_ARM },
        { "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64 }, { "SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64 },
        { "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE }, { "SCMP_ARCH_S390X", SCMP_ARCH_S390X },
    };
    for (size_t i = 0; i < ARRAY_SIZE(t); i++)
        if (strcmp(t[i].name, name) == 0)
            return t[i].arch;
    return 0;
}

int seccomp_prepare(const A3s__Guest__V1__Seccomp *spec, void **out, char *err, size_t errlen)
{
    uint32_t def;
    if (parse_action(spec->default_action, PB_HAS(spec, default_errno_ret), spec->default_errno_ret, &def) < 0) {
        snprintf(err, errlen, "unknown seccomp default action `%s`", spec->default_action);
        return -EINVAL;
    }
    scmp_filter_ctx ctx = seccomp_init(def);
    if (!ctx) {
        snprintf(err, errlen, "seccomp_init");
        return -ENOMEM;
    }
    struct filter *filter = xcalloc(1, sizeof(*filter));
    filter->ctx = ctx;
    filter->max_nr = -1;
    filter->enosys_stub = def != SCMP_ACT_ALLOW && def != SCMP_ACT_LOG && def != SCMP_ACT_ERRNO(ENOSYS);
    int r;
    /* no_new_privs is the spec's business, not libseccomp's (which sets it by default). */
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    for (size_t i = 0; i < spec->n_architectures; i++) {
        uint32_t arch = parse_arch(spec->architectures[i]);
        if (!arch) {
            log_warn("unknown seccomp architecture `%s` skipped", spec->architectures[i]);
            continue;
        }
        r = seccomp_arch_add(ctx, arch);
        if (r < 0 && r != -EEXIST) {
            snprintf(err, errlen, "seccomp architecture `%s`", spec->architectures[i]);
            goto fail;
        }
    }
    for (size_t i = 0; i < spec->n_flags; i++) {
        const char *f = spec->flags[i];
        if (strcmp(f, "SECCOMP_FILTER_FLAG_LOG") == 0) {
            if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1)) == 0)
                filter->flags |= SECCOMP_FILTER_FLAG_LOG;
        } else if (strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0) {
            if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1)) == 0)
                filter->flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
        } else if (strcmp(f, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
            r = 0; /* one thread */
        else {
            log_warn("unknown seccomp flag `%s` skipped", f);
            r = 0;
        }
        if (r < 0)
            log_warn("seccomp flag `%s` not supported here: %s", f, strerror(-r));
    }
    for (size_t i = 0; i < spec->n_syscalls; i++) {
        const A3s__Guest__V1__SeccompRule *rule = spec->syscalls[i];
        uint32_t act;
        if (parse_action(rule->action, PB_HAS(rule, errno_ret), rule->errno_ret, &act) < 0) {
            snprintf(err, errlen, "unknown seccomp action `%s`", rule->action);
            r = -EINVAL;
            goto fail;
        }
        if (act == def) {
            /* libseccomp refuses rules that repeat the default; their names still count for the stub */
            for (size_t n = 0; n < rule->n_names; n++)
                note_syscall(filter, rule->names[n]);
            continue;
        }
        struct scmp_arg_cmp cmps[6];
        if (rule->n_args > ARRAY_SIZE(cmps)) {
            snprintf(err, errlen, "seccomp rule with %zu arguments", rule->n_args);
            r = -EINVAL;
            goto fail;
        }
        for (size_t a = 0; a < rule->n_args; a++) {
            enum scmp_compare op;
            if (parse_op(rule->args[a]->op, &op) < 0) {
                snprintf(err, errlen, "unknown seccomp operator `%s`", rule->args[a]->op);
                r = -EINVAL;
                goto fail;
            }
            cmps[a] = (struct scmp_arg_cmp){ .arg = rule->args[a]->index, .op = op,
                                             .datum_a = rule->args[a]->value, .datum_b = rule->args[a]->value_two };
        }
        /* libseccomp takes one comparison per argument in a rule (EINVAL otherwise). When an argument repeats,
         * each comparison becomes a rule of its own, which ORs them, as runc does (hasMultipleArgs). */
        bool repeated = false;
        for (size_t a = 0; a < rule->n_args; a++)
            for (size_t b = a + 1; b < rule->n_args; b++)
                repeated |= cmps[a].arg == cmps[b].arg;
        for (size_t n = 0; n < rule->n_names; n++) {
            int nr = seccomp_syscall_resolve_name(rule->names[n]);
            if (nr == __NR_SCMP_ERROR) {
                log_info("seccomp: unknown syscall `%s` skipped", rule->names[n]);
                continue;
            }
            note_syscall(filter, rule->names[n]);
            if (repeated) {
                r = 0;
                for (size_t a = 0; a < rule->n_args && r >= 0; a++)
                    r = seccomp_rule_add_array(ctx, act, nr, 1, &cmps[a]);
            } else {
                r = seccomp_rule_add_array(ctx, act, nr, (unsigned int)rule->n_args, cmps);
            }
            if (r < 0) {
                snprintf(err, errlen, "seccomp rule for `%s`", rule->names[n]);
                goto fail;
            }
        }
    }
    *out = filter;
    return 0;
fail:
    seccomp_release(ctx);
    free(filter);
    return r < 0 ? r : -EINVAL;
}

/* libseccomp's program for f, read back from seccomp_export_bpf. */
static int export_program(const struct filter *f, struct sock_filter **prog, size_t *n)
{
    int fd = memfd_create("a3s-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = seccomp_export_bpf(f->ctx, fd);
    off_t len = r < 0 ? 0 : lseek(fd, 0, SEEK_END);
    if (r >= 0 && (len <= 0 || len % (off_t)sizeof(struct sock_filter) != 0))
        r = -EINVAL;
    if (r >= 0) {
        *prog = xmalloc((size_t)len);
        r = pread(fd, *prog, (size_t)len, 0) == len ? 0 : -EIO;
        *n = (size_t)len / sizeof(struct sock_filter);
    }
    close(fd);
    return r;
}

/* libseccomp's program as it is, without the stub. */
static int load_plain(const struct filter *f, char *err, size_t errlen)
{
    int r = seccomp_load(f->ctx);
    if (r < 0)
        snprintf(err, errlen, "load the seccomp filter");
    return r < 0 ? r : 0;
}

int seccomp_install(void *p, char *err, size_t errlen)
{
    struct filter *f = p;
    if (!f->enosys_stub || f->max_nr < 0)
        return load_plain(f, err, errlen);
    struct sock_filter *body = NULL;
    size_t n = 0;
    int r = export_program(f, &body, &n);
    if (r < 0) {
        snprintf(err, errlen, "export the seccomp filter");
        return r;
    }
    /* x86_64 only (the VM's architecture): another arch, and the x32 ABI on x86_64, go straight to libseccomp's
     * program; jump offsets count from the next instruction */
    const struct sock_filter stub[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)f->max_nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
    };
    size_t total = ARRAY_SIZE(stub) + n;
    if (total > BPF_MAXINSNS) {
        log_warn("seccomp: %zu instructions with the ENOSYS stub, over the kernel's %d: loaded without it", total,
                 BPF_MAXINSNS);
        free(body);
        return load_plain(f, err, errlen);
    }
    struct sock_filter *all = xcalloc(total, sizeof(*all));
    memcpy(all, stub, sizeof(stub));
    memcpy(all + ARRAY_SIZE(stub), body, n * sizeof(*body));
    free(body);
    struct sock_fprog prog = { .len = (unsigned short)total, .filter = all };
    r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, &prog) < 0 ? -errno : 0;
    free(all);
    if (r < 0)
        snprintf(err, errlen, "load the seccomp filter");
    return r;
}
