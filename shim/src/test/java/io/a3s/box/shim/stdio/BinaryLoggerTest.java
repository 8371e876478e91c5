package io.a3s.box.shim.stdio;

import com.google.protobuf.ByteString;
import io.a3s.box.guest.v1.ReadOutputResponse;
import io.a3s.box.guest.v1.Stream;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** binary:// logging as containerd's logging binaries expect it: fds 3 and 4, readiness on fd 5, env. */
@Timeout(30)
class BinaryLoggerTest {
    @TempDir
    Path dir;

    /** A guest whose process printed one line on each stream and exited. */
    static GuestStreams printed(String out, String err) {
        return new GuestStreams() {
            boolean outDone;
            boolean errDone;

            @Override
            public synchronized ReadOutputResponse read(Stream stream, int maxBytes) {
                boolean first = stream == Stream.STDOUT ? !outDone : !errDone;
                if (stream == Stream.STDOUT) {
                    outDone = true;
                } else {
                    errDone = true;
                }
                String data = stream == Stream.STDOUT ? out : err;
                return ReadOutputResponse.newBuilder().setData(first ? ByteString.copyFromUtf8(data) : ByteString.EMPTY)
                        .setEof(true).build();
            }

            @Override
            public void write(byte[] data) {
            }

            @Override
            public void closeStdin() {
            }
        };
    }

    @Test
    void theLoggerGetsStdoutOnFd3StderrOnFd4AndItsEnvironment() throws Exception {
        Path script = dir.resolve("logger.sh");
        Path log = dir.resolve("log");
        Files.writeString(script, """
                #!/bin/sh
                # $1 = the "file" query value
                exec 5>&-
                { cat <&3 | sed 's/^/out: /'; cat <&4 | sed 's/^/err: /'; echo "id=$CONTAINER_ID ns=$CONTAINER_NAMESPACE"
                  echo "args=$# $3 [$4] extra=$EXTRA home=${HOME-unset} a3s=${A3S_LOG_OUT-unset}"; } > "$2.tmp"
                mv "$2.tmp" "$2"
                """);
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        // as containerd: a key's first value only, "" for a key without one, env.NAME into the environment,
        // which holds nothing of the shim's
        StdioPaths paths = new StdioPaths("", "binary://" + script + "?file=" + log + "&debug&env.EXTRA=x%20y&file=no",
                "binary://" + script, false);
        ProcessIo io = ProcessIo.open("test", paths, printed("hello\n", "oops\n"),
                Map.of("CONTAINER_ID", "c1", "CONTAINER_NAMESPACE", "ns1"));
        io.start();
        io.outputDone().get(10, TimeUnit.SECONDS);
        io.close();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Files.exists(log) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals("out: hello\nerr: oops\nid=c1 ns=ns1\nargs=4 debug [] extra=x y home=unset a3s=unset\n",
                Files.readString(log));
    }

    @Test
    void aMissingLoggingBinaryIsNotFound() {
        StdioPaths paths = new StdioPaths("", "binary:///no/such/logger", "binary:///no/such/logger", false);
        StatusException e = assertThrows(StatusException.class,
                () -> ProcessIo.open("test", paths, printed("", ""), Map.of()));
        assertEquals(Code.NOT_FOUND, e.code());
    }
}
