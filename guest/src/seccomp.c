/* seccomp filters from the spec, with libseccomp. Built before the process parks (so a bad profile fails
 * CreateContainer/ExecProcess), loaded as the last step before execve (see container.c for the one
 * exception). Syscall names this libseccomp or architecture does not know are skipped with a log line,
 * as runc does; unknown actions, operators or architectures are errors. */
#include "container.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>

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
        if (strcmp(f, "SECCOMP_FILTER_FLAG_LOG") == 0)
            r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
        else if (strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
            r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
        else if (strcmp(f, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
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
        if (act == def)
            continue; /* libseccomp refuses rules that repeat the default */
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
    *out = ctx;
    return 0;
fail:
    seccomp_release(ctx);
    return r < 0 ? r : -EINVAL;
}

int seccomp_install(void *ctx, char *err, size_t errlen)
{
    int r = seccomp_load((scmp_filter_ctx)ctx);
    if (r < 0) {
        snprintf(err, errlen, "load the seccomp filter");
        return r;
    }
    return 0;
}
