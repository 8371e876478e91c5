package io.a3s.box.shim.bootstrap;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.a3s.box.containerd.types.RuntimeInfo;
import io.a3s.box.containerd.types.RuntimeVersion;
import io.a3s.box.shim.BuildInfo;
import io.a3s.box.spec.validate.LinuxNames;

import java.io.IOException;
import java.util.TreeSet;

/**
 * {@code -info}: containerd 2.0+'s runtime introspection. Reads the runtime options containerd writes on stdin
 * (a serialized {@code Any}, possibly empty), prints a serialized {@code containerd.types.RuntimeInfo} on stdout:
 * our name and version, the options echoed (as the runc shim does), and the OCI runtime features
 * ({@code opencontainers/runtime-spec} features.md) as JSON.
 *
 * <p>The features say only what is true of this runtime; a field left out means "unknown" to the reader, which
 * is what containerd assumes of a shim without {@code -info}. Idmapped mounts are declared absent: containerd
 * then refuses a pod that needs them instead of handing us a spec we would refuse later.
 */
final class InfoAction {
    static final String FEATURES_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/features/Features";
    /** The newest runtime-spec this runtime was written against; every 1.x config is accepted. */
    static final String OCI_VERSION_MAX = "1.2.1";

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
        ObjectNode linux = f.putObject("linux");
        new TreeSet<>(LinuxNames.NAMESPACES).forEach(linux.putArray("namespaces")::add);
        linux.putObject("cgroup").put("v1", false).put("v2", true);
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
