package io.a3s.box.spec.validate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.a3s.box.spec.Fixtures;
import io.a3s.box.spec.SpecError;
import io.a3s.box.spec.oci.OciJson;
import io.a3s.box.spec.oci.Spec;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class SpecValidatorTest {
    private static final String VALID_PROCESS =
            "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}}";

    static List<String> containerConfigs() {
        return Fixtures.containerConfigs().stream().filter(n -> !n.equals("oci-spec-default")).toList();
    }

    private static List<String> validate(String json) throws Exception {
        Spec spec = OciJson.parseSpec(json.getBytes(StandardCharsets.UTF_8));
        return SpecValidator.validate(spec).stream().map(SpecError::toString).toList();
    }

    @ParameterizedTest
    @MethodSource("containerConfigs")
    void containerdConfigsAreValid(String name) throws Exception {
        assertEquals(List.of(), SpecValidator.validate(Fixtures.spec(name)));
    }

    @Test
    void execProcessesAreValid() throws Exception {
        for (String name : Fixtures.execProcesses()) {
            assertEquals(List.of(), SpecValidator.validateProcess(OciJson.parseProcess(Fixtures.bytes(name))), name);
        }
    }

    @Test
    void emptyDocumentMissesTheRequiredParts() throws Exception {
        assertEquals(List.of("ociVersion: is required", "process: is required", "root: is required"),
                validate("{}"));
    }

    @Test
    void everyProcessErrorIsReportedAtOnce() throws Exception {
        assertEquals(List.of(
                "process.args[0]: the program to run must not be empty",
                "process.args[1]: contains a NUL byte, which execve cannot pass",
                "process.env[0]: \"NOEQUALS\" is not of the form KEY=VALUE",
                "process.env[1]: \"=value\" has an empty variable name",
                "process.cwd: \"relative/dir\" is not an absolute path",
                "process.consoleSize.width: must be between 0 and 65535, got 70000",
                "process.user.uid: must be between 0 and 4294967295, got 4294967296",
                "process.user.gid: is required",
                "process.user.umask: must be between 0 and 511, got 512",
                "process.user.additionalGids[1]: must be between 0 and 4294967295, got -5",
                "process.rlimits[0].type: \"RLIMIT_FOO\" is not a known rlimit type",
                "process.rlimits[2].type: RLIMIT_NOFILE is set more than once",
                "process.rlimits[2]: soft 2048 exceeds hard 1024",
                "process.rlimits[3].soft: must be between 0 and 18446744073709551615, got 18446744073709551616",
                "process.oomScoreAdj: must be between -1000 and 1000, got 1001",
                "process.scheduler.policy: \"SCHED_WHATEVER\" is not a known scheduling policy (one of SCHED_BATCH,"
                        + " SCHED_DEADLINE, SCHED_FIFO, SCHED_IDLE, SCHED_ISO, SCHED_OTHER, SCHED_RR)",
                "process.scheduler.nice: must be between -20 and 19, got 20",
                "process.ioPriority.class: is required",
                "process.ioPriority.priority: must be between 0 and 7, got 8"),
                validate("""
                        {"ociVersion":"1.2.0","root":{"path":"rootfs"},
                         "process":{"args":["","a\\u0000b"],"env":["NOEQUALS","=value","OK=1"],"cwd":"relative/dir",
                           "terminal":true,"consoleSize":{"height":24,"width":70000},
                           "user":{"uid":4294967296,"umask":512,"additionalGids":[1,-5]},
                           "rlimits":[{"type":"RLIMIT_FOO","soft":1,"hard":1},
                                      {"type":"RLIMIT_NOFILE","soft":1024,"hard":1024},
                                      {"type":"RLIMIT_NOFILE","soft":2048,"hard":1024},
                                      {"type":"RLIMIT_CORE","soft":18446744073709551616,"hard":0}],
                           "oomScoreAdj":1001,
                           "scheduler":{"policy":"SCHED_WHATEVER","nice":20},
                           "ioPriority":{"priority":8}}}
                        """));
    }

    @Test
    void versionRules() throws Exception {
        assertEquals(List.of("ociVersion: \"1.0\" is not a SemVer 2.0.0 version"),
                validate("{\"ociVersion\":\"1.0\",\"root\":{\"path\":\"r\"}," + VALID_PROCESS + "}"));
        assertEquals(List.of("ociVersion: \"2.0.0\" is not supported: this runtime implements runtime-spec 1.x"),
                validate("{\"ociVersion\":\"2.0.0\",\"root\":{\"path\":\"r\"}," + VALID_PROCESS + "}"));
        assertEquals(List.of(), validate("{\"ociVersion\":\"1.0.2-dev\",\"root\":{\"path\":\"r\"}," + VALID_PROCESS
                + "}"));
    }

    @Test
    void everyLinuxErrorIsReportedAtOnce() throws Exception {
        assertEquals(List.of(
                "hostname: is 65 characters long, more than the kernel's 64",
                "hostname: setting it needs a new uts namespace, and linux.namespaces has none",
                "mounts[0].destination: \"relative\" is not an absolute path",
                "mounts[1].destination: is required",
                "hooks.poststop[0].path: is required",
                "annotations: an annotation key must not be empty",
                "linux.namespaces[1].type: the pid namespace is listed more than once",
                "linux.namespaces[2].type: \"net\" is not a known namespace type (one of cgroup, ipc, mount,"
                        + " network, pid, time, user, uts)",
                "linux.namespaces[3].path: \"proc/1/ns/ipc\" is not an absolute path",
                "linux.uidMappings[0].size: must be at least 1",
                "linux.uidMappings: uid mappings need a user namespace, and linux.namespaces has none",
                "linux.devices[0].type: \"x\" is not a known device type (one of b, c, p, u)",
                "linux.devices[1].major: is required",
                "linux.devices[1].fileMode: must be between 0 and 4095, got 65535",
                "linux.resources.devices[0].access: \"rwx\" is not a combination of r, w and m",
                "linux.resources.memory.limit: must be at least -1, got -2",
                "linux.resources.cpu.shares: must be between 2 and 262144, got 1",
                "linux.resources.cpu.quota: must be -1 (no limit) or at least 1000 microseconds, got 5",
                "linux.resources.cpu.period: must be between 1000 and 1000000 microseconds, got 2000000",
                "linux.resources.cpu.cpus: \"0-2,x\" is not a list like 0-3,5",
                "linux.resources.cpu.mems: the range 3-1 runs backwards",
                "linux.resources.pids.limit: must be at least -1, got -7",
                "linux.resources.blockIO.weight: must be between 10 and 1000, got 5",
                "linux.resources.hugepageLimits[0].pageSize: \"2M\" is not a size like 2MB or 1GB",
                "linux.resources.unified[\"../memory.max\"]: is not a cgroup interface file name like memory.high",
                "linux.sysctl[\"/proc/sys/x\"]: is not a sysctl name like net.ipv4.ip_forward",
                "linux.seccomp.defaultAction: \"SCMP_ACT_MAYBE\" is not a known seccomp action",
                "linux.seccomp.architectures[0]: \"SCMP_ARCH_Z80\" is not a known seccomp architecture",
                "linux.seccomp.syscalls[0].names: at least one syscall name is required",
                "linux.seccomp.syscalls[1].args[0].index: must be between 0 and 5, got 6",
                "linux.seccomp.syscalls[1].args[0].op: \"SCMP_CMP_LIKE\" is not a known seccomp operator (one of"
                        + " SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_LE, SCMP_CMP_LT, SCMP_CMP_MASKED_EQ,"
                        + " SCMP_CMP_NE)",
                "linux.rootfsPropagation: \"sideways\" is not a known propagation (one of private, rprivate,"
                        + " rshared, rslave, runbindable, shared, slave, unbindable)",
                "linux.maskedPaths[0]: \"proc/kcore\" is not an absolute path",
                "linux.personality.domain: \"BSD\" is not a known personality domain (one of LINUX, LINUX32)",
                "linux.timeOffsets: time offsets need a time namespace, and linux.namespaces has none",
                "linux.timeOffsets.realtime: \"realtime\" is not a known clock (one of boottime, monotonic)"),
                validate("""
                        {"ociVersion":"1.2.0","root":{"path":"rootfs"},%s,
                         "hostname":"%s",
                         "mounts":[{"destination":"relative","type":"tmpfs"},{"type":"tmpfs"}],
                         "hooks":{"poststop":[{"args":["x"]}]},
                         "annotations":{"":"v"},
                         "linux":{
                           "namespaces":[{"type":"pid"},{"type":"pid"},{"type":"net"},
                                         {"type":"ipc","path":"proc/1/ns/ipc"}],
                           "uidMappings":[{"containerID":0,"hostID":1000,"size":0}],
                           "devices":[{"path":"/dev/x","type":"x"},{"path":"/dev/y","type":"c","minor":1,
                                       "fileMode":65535}],
                           "resources":{"devices":[{"allow":true,"access":"rwx"}],
                                        "memory":{"limit":-2},
                                        "cpu":{"shares":1,"quota":5,"period":2000000,"cpus":"0-2,x","mems":"3-1"},
                                        "pids":{"limit":-7},
                                        "blockIO":{"weight":5},
                                        "hugepageLimits":[{"pageSize":"2M","limit":0}],
                                        "unified":{"../memory.max":"1"}},
                           "sysctl":{"/proc/sys/x":"1"},
                           "seccomp":{"defaultAction":"SCMP_ACT_MAYBE","architectures":["SCMP_ARCH_Z80"],
                                      "syscalls":[{"names":[],"action":"SCMP_ACT_ALLOW"},
                                                  {"names":["read"],"action":"SCMP_ACT_ALLOW",
                                                   "args":[{"index":6,"value":1,"op":"SCMP_CMP_LIKE"}]}]},
                           "rootfsPropagation":"sideways",
                           "maskedPaths":["proc/kcore"],
                           "personality":{"domain":"BSD"},
                           "timeOffsets":{"realtime":{"secs":1}}}}
                        """.formatted(VALID_PROCESS, "h".repeat(65))));
    }

    @Test
    void memoryAndSwap() throws Exception {
        String head = "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"}," + VALID_PROCESS
                + ",\"linux\":{\"resources\":{\"memory\":";
        assertEquals(List.of("linux.resources.memory.swap: memory+swap 1000 is less than the memory limit 2000"),
                validate(head + "{\"limit\":2000,\"swap\":1000}}}}"));
        assertEquals(List.of("linux.resources.memory.swap: a swap limit needs a memory limit"),
                validate(head + "{\"swap\":1000}}}}"));
        assertEquals(List.of("linux.resources.memory.swappiness: must be between 0 and 100, got 101"),
                validate(head + "{\"swappiness\":101}}}}"));
        assertEquals(List.of(), validate(head + "{\"limit\":-1,\"swap\":-1,\"reservation\":0}}}}"));
    }

    @Test
    void seccompNotifyNeedsAListener() throws Exception {
        assertEquals(List.of("linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs a listener path"),
                validate("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"}," + VALID_PROCESS
                        + ",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":"
                        + "[{\"names\":[\"mount\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}}}"));
    }

    @Test
    void execProcessPathsAreRelativeToTheProcessDocument() throws Exception {
        var process = OciJson.parseProcess("{\"args\":[],\"cwd\":\"x\"}".getBytes(StandardCharsets.UTF_8));
        assertEquals(List.of("args: at least one argument (the program to run) is required",
                "cwd: \"x\" is not an absolute path", "user: is required"),
                SpecValidator.validateProcess(process).stream().map(SpecError::toString).toList());
    }

    @Test
    void overlongArgumentsAreRefused() throws Exception {
        String big = "a".repeat(io.a3s.box.spec.Limits.MAX_ARG_BYTES + 1);
        assertEquals(List.of("process.args[1]: is longer than the 131072 bytes execve accepts for one string"),
                validate("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"sh\",\""
                        + big + "\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}}}"));
    }
}
