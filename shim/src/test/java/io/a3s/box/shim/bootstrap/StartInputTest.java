package io.a3s.box.shim.bootstrap;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.a3s.box.containerd.bootstrap.BootstrapParams;
import io.a3s.box.containerd.bootstrap.Extension;
import io.a3s.box.containerd.bootstrap.LogLevel;
import io.a3s.box.containerd.runtimeoptions.Options;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StartInputTest {
    private static final Any OPTIONS = Any.newBuilder().setTypeUrl("runtimeoptions.v1.Options")
            .setValue(Options.newBuilder().setConfigPath("/etc/a3s-box/x.toml").build().toByteString()).build();

    @Test
    void emptyStdinMeansNoOptions() {
        StartInput in = StartInput.classify(new byte[0], "id", "ns");
        assertInstanceOf(StartInput.Empty.class, in);
        assertTrue(in.options().isEmpty());
    }

    @Test
    void bootstrapParamsOfThisTaskAreRecognised() {
        BootstrapParams p = BootstrapParams.newBuilder().setInstanceId("c1").setNamespace("k8s.io")
                .setLogLevel(LogLevel.DEBUG).setContainerdTtrpcAddress("/run/containerd/containerd.sock.ttrpc")
                .addExtensions(Extension.newBuilder().setValue(OPTIONS)).build();
        StartInput in = StartInput.classify(p.toByteArray(), "c1", "k8s.io");
        StartInput.Bootstrap b = assertInstanceOf(StartInput.Bootstrap.class, in);
        assertEquals(OPTIONS, in.options().orElseThrow());
        assertTrue(b.debug());
        assertEquals("/run/containerd/containerd.sock.ttrpc", b.params().getContainerdTtrpcAddress());
    }

    @Test
    void bootstrapParamsOfAnotherTaskAreNot() {
        BootstrapParams p = BootstrapParams.newBuilder().setInstanceId("c1").setNamespace("k8s.io").build();
        assertFalse(StartInput.classify(p.toByteArray(), "c2", "k8s.io") instanceof StartInput.Bootstrap);
        assertFalse(StartInput.classify(p.toByteArray(), "c1", "default") instanceof StartInput.Bootstrap);
    }

    @Test
    void aLegacyAnyIsNotMistakenForBootstrapParams() {
        // An Any's fields 1 and 2 are strings too: it decodes as BootstrapParams{instance_id=type URL, ...}.
        StartInput in = StartInput.classify(OPTIONS.toByteArray(), "c1", "k8s.io");
        assertEquals(OPTIONS, assertInstanceOf(StartInput.Legacy.class, in).any());
        assertEquals(OPTIONS, in.options().orElseThrow());
        // even when the id happens to equal the type URL, the namespace (the Any's value) does not match
        assertInstanceOf(StartInput.Legacy.class, StartInput.classify(OPTIONS.toByteArray(),
                "runtimeoptions.v1.Options", "k8s.io"));
    }

    @Test
    void garbageIsUnrecognisedNotAnError() {
        StartInput in = StartInput.classify(new byte[]{(byte) 0xff, (byte) 0xff, 0x00, 0x13}, "c1", "ns");
        assertInstanceOf(StartInput.Unrecognized.class, in);
        assertTrue(in.options().isEmpty());
        in = StartInput.classify("hello world\n".getBytes(), "c1", "ns");
        assertTrue(in.options().isEmpty());
        // decodes as an Any, but one without a type
        assertInstanceOf(StartInput.Unrecognized.class, StartInput.classify(
                Any.newBuilder().setValue(ByteString.copyFromUtf8("x")).build().toByteArray(), "c1", "ns"));
    }

    @Test
    void readsAtMostTenMebibytes() throws IOException {
        byte[] ok = new byte[StartInput.MAX_BYTES];
        assertEquals(StartInput.MAX_BYTES, StartInput.readAll(new ByteArrayInputStream(ok)).length);
        InputStream tooMuch = new ByteArrayInputStream(new byte[StartInput.MAX_BYTES + 1]);
        assertTrue(assertThrows(IOException.class, () -> StartInput.readAll(tooMuch)).getMessage()
                .contains("more than 10 MiB"));
    }
}
