package io.a3s.box.shim.bootstrap;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.a3s.box.containerd.types.RuntimeInfo;
import io.a3s.box.containerd.types.RuntimeVersion;
import io.a3s.box.shim.BuildInfo;
import io.a3s.box.spec.guest.SpecMapper;
import io.a3s.box.spec.validate.LinuxNames;

import java.io.IOException;
import java.util.List;
import java.util.TreeSet;

/**
 * {@code -info}: containerd 2.0+'s runtime introspection. Reads the runtime options containerd writes on stdin
 * (a serialized {@code Any}, possibly empty), prints a serialized {@code containerd.types.RuntimeInfo} on stdout:
 * our name and version, the options echoed (as the runc shim does), and the OCI runtime features
 * ({@code opencontainers/runtime-spec} features.md) as JSON.
 *
 * <p>The features say only what is true of this runtime; a field left out means "unknown" to the reader, which
 * is what containerd assumes of a shim without {@code -info}. Idmapped mounts are declared absent: containerd
 * then refuses a pod that needs them instead of handing us a spec we would refuse later. AppArmor and SELinux
 * are declared disabled: a profile or label in a config is warned about and not applied (the VM is the boundary).
 */
final class InfoAction {
    static final String FEATURES_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/features/Features";
    /** The newest runtime-spec this runtime was written against; every 1.x config is accepted. */
    static final String OCI_VERSION_MAX = "1.2.1";
    /**
     * What the guest agent's libseccomp takes (guest/src/seccomp.c): the architectures it adds to a filter (others
     * are skipped with a warning), and the filter flags it sets (TSYNC is moot: the filter is loaded before execve,
     * with one thread).
     */
    static final List<String> GUEST_SECCOMP_ARCHITECTURES = List.of("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM",
            "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390X", "SCMP_ARCH_X32", "SCMP_ARCH_X86",
            "SCMP_ARCH_X86_64");
    static final List<String> GUEST_SECCOMP_FLAGS = List.of("SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC");

    private InfoAction() {
    }

    static int run(Invocation inv) {
        RuntimeInfo.Builder info = RuntimeInfo.newBuilder()
                .setName("io.a3s.box")
                .setVersion(RuntimeVersion.newBuilder().setVersion(BuildInfo.CURRENT.version())
                        .setRevision(BuildInfo.CURRENT.commit()))
                .setFeatures(Any.newBuilder().setTypeUrl(FEATURES_TYPE_URL)
                        .setValue(ByteString.copyFromUtf8(featuresJson())));
        try {
            byte[] stdin = StartInput.readAll(inv.stdin()); // like the Go shims: all of it, so a terminal waits for ^D
            if (stdin.length > 0) {
                info.setOptions(Any.parseFrom(stdin));
            }
        } catch (InvalidProtocolBufferException e) {
            inv.stderr().println(ShimCli.NAME + ": -info: stdin is not a serialized Any (the runtime options): "
                    + e.getMessage());
            return 1;
        } catch (IOException e) {
            inv.stderr().println(ShimCli.NAME + ": -info: read stdin: " + e.getMessage());
            return 1;
        }
        try {
            info.build().writeTo(inv.stdout());
        } catch (IOException e) {
            inv.stderr().println(ShimCli.NAME + ": -info: write stdout: " + e.getMessage());
            return 1;
        }
        inv.stdout().flush();
        return 0;
    }

    /** The runtime-spec features document: what a config may ask of this runtime. */
    static String featuresJson() {
        ObjectMapper json = new ObjectMapper();
        ObjectNode f = json.createObjectNode();
        f.put("ociVersionMin", "1.0.0");
        f.put("ociVersionMax", OCI_VERSION_MAX);
        SpecMapper.HOOKS.forEach(f.putArray("hooks")::add);
        // containerd's CRI reads "rro" here to tell kubelet that recursive read-only mounts work
        SpecMapper.mountOptions().forEach(f.putArray("mountOptions")::add);
        ObjectNode linux = f.putObject("linux");
        new TreeSet<>(LinuxNames.NAMESPACES).forEach(linux.putArray("namespaces")::add);
        LinuxNames.CAPABILITIES.forEach(linux.putArray("capabilities")::add);
        linux.putObject("cgroup").put("v1", false).put("v2", true);
        ObjectNode seccomp = linux.putObject("seccomp").put("enabled", true);
        LinuxNames.SECCOMP_ACTIONS.stream().filter(a -> !a.equals("SCMP_ACT_NOTIFY")).sorted()
                .forEach(seccomp.putArray("actions")::add);
        new TreeSet<>(LinuxNames.SECCOMP_OPERATORS).forEach(seccomp.putArray("operators")::add);
        GUEST_SECCOMP_ARCHITECTURES.forEach(seccomp.putArray("archs")::add);
        new TreeSet<>(LinuxNames.SECCOMP_FLAGS).forEach(seccomp.putArray("knownFlags")::add);
        GUEST_SECCOMP_FLAGS.forEach(seccomp.putArray("supportedFlags")::add);
        linux.putObject("apparmor").put("enabled", false);
        linux.putObject("selinux").put("enabled", false);
        linux.putObject("mountExtensions").putObject("idmap").put("enabled", false);
        ObjectNode annotations = f.putObject("annotations");
        annotations.put("io.a3s.box.isolation", "microvm");
        try {
            return json.writeValueAsString(f);
        } catch (IOException e) {
            throw new IllegalStateException("features document", e);
        }
    }
}
