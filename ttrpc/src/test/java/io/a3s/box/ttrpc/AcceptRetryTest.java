package io.a3s.box.ttrpc;

import com.google.protobuf.StringValue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.SocketAddress;
import java.net.SocketOption;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A failed accept (EMFILE and the like) is retried: the server never stops accepting while it runs. */
@Timeout(30)
class AcceptRetryTest {
    @TempDir
    Path dir;

    @Test
    void acceptFailuresAreRetriedAndTheNextClientIsServed() throws Exception {
        Path socket = dir.resolve("t.sock");
        ServerSocketChannel real = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        real.bind(UnixDomainSocketAddress.of(socket));
        FailingListener listener = new FailingListener(real, 4);
        ServiceDefinition echo = ServiceDefinition.builder("test.v1.Echo")
                .unary("Echo", StringValue.parser(), (req, ctx) -> req).build();
        try (TtrpcServer server = TtrpcServer.builder().listener(listener).addService(echo).build().start();
             TtrpcClient c = TtrpcClient.connect(socket)) {
            assertEquals("x", c.call("test.v1.Echo", "Echo", StringValue.of("x"), StringValue.parser(),
                    Duration.ofSeconds(10)).getValue());
            assertTrue(listener.failuresLeft.get() < 0, "every failure was seen, then an accept that worked");
        }
    }

    /** A listener whose first accepts fail as accept(2) does when the process is out of descriptors. */
    static final class FailingListener extends ServerSocketChannel {
        final ServerSocketChannel real;
        final AtomicInteger failuresLeft;

        FailingListener(ServerSocketChannel real, int failures) {
            super(real.provider());
            this.real = real;
            this.failuresLeft = new AtomicInteger(failures);
        }

        @Override
        public SocketChannel accept() throws IOException {
            if (failuresLeft.getAndDecrement() > 0) {
                throw new IOException("Too many open files");
            }
            return real.accept();
        }

        @Override
        public ServerSocketChannel bind(SocketAddress local, int backlog) throws IOException {
            real.bind(local, backlog);
            return this;
        }

        @Override
        public <T> ServerSocketChannel setOption(SocketOption<T> name, T value) throws IOException {
            real.setOption(name, value);
            return this;
        }

        @Override
        public <T> T getOption(SocketOption<T> name) throws IOException {
            return real.getOption(name);
        }

        @Override
        public Set<SocketOption<?>> supportedOptions() {
            return real.supportedOptions();
        }

        @Override
        public ServerSocket socket() {
            return real.socket();
        }

        @Override
        public SocketAddress getLocalAddress() throws IOException {
            return real.getLocalAddress();
        }

        @Override
        protected void implCloseSelectableChannel() throws IOException {
            real.close();
        }

        @Override
        protected void implConfigureBlocking(boolean block) throws IOException {
            real.configureBlocking(block);
        }
    }
}
