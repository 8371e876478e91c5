package io.a3s.box.shim.task;

import io.a3s.box.containerd.events.TaskCreate;
import io.a3s.box.containerd.task.CreateTaskRequest;
import io.a3s.box.containerd.task.DeleteRequest;
import io.a3s.box.containerd.task.KillRequest;
import io.a3s.box.containerd.task.StartRequest;
import io.a3s.box.containerd.task.StateRequest;
import io.a3s.box.containerd.task.WaitRequest;
import io.a3s.box.ttrpc.CallContext;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.Metadata;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static io.a3s.box.shim.task.TaskTesting.assertStatus;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * containerd 1.6 sends the task calls it makes for its clients with no ttrpc metadata, so no namespace
 * (measured with 1.6.20: Create arrives with empty metadata), and names the namespace only when it reloads
 * its shims after a restart. The task must still be found, and its events published in its namespace
 * (containerd refuses an event without one), on every path.
 */
@Timeout(60)
class TaskServiceNamespaceTest {
    @TempDir
    Path dir;

    final TaskServiceTest base = new TaskServiceTest();
    /** One per ttrpc connection: containerd keeps one per task. */
    final CallContext.ConnectionState connA = () -> true;
    final CallContext.ConnectionState connB = () -> true;
    final CallContext.ConnectionState connC = () -> true;

    @BeforeEach
    void setUp() {
        base.dir = dir;
    }

    @AfterEach
    void release() {
        base.releaseVms();
    }

    static CallContext noMetadata(CallContext.ConnectionState conn) {
        return new CallContext(TaskService.V2, "test", Metadata.empty(), 0, Optional.empty(), conn);
    }

    static CallContext withNamespace(String ns, CallContext.ConnectionState conn) {
        return new CallContext(TaskService.V2, "test", Metadata.of(TaskService.NAMESPACE_KEY, ns), 0,
                Optional.empty(), conn);
    }

    /** A bundle where containerd puts it: {@code <state>/io.containerd.runtime.v2.task/<ns>/<id>}. */
    String bundle(String ns, String id, String... args) throws Exception {
        Path b = Files.createDirectories(dir.resolve("state/io.containerd.runtime.v2.task").resolve(ns).resolve(id));
        Files.writeString(b.resolve("config.json"),
                base.json.writeValueAsString(Map.of("process", Map.of("args", List.of(args)))));
        return b.toString();
    }

    void create(String ns, String id, CallContext ctx) throws Exception {
        base.svc.create(CreateTaskRequest.newBuilder().setId(id).setBundle(bundle(ns, id, "sleep"))
                .setTerminal(true).build(), ctx);
    }

    @Test
    void createWithoutMetadataTakesTheNamespaceFromTheBundleAndLaterCallsFindTheTask() throws Exception {
        create("ns1", "c1", noMetadata(connA));
        assertEquals("c1", base.next("ns1", TaskCreate.class).getContainerId());
        // the task's own connection, without metadata (containerd 1.6 serving ctr)
        base.svc.start(StartRequest.newBuilder().setId("c1").build(), noMetadata(connA));
        // a new connection naming the namespace (containerd 1.6 reloading its shims after a restart)
        assertEquals(io.a3s.box.containerd.types.task.Status.RUNNING,
                base.svc.state(StateRequest.newBuilder().setId("c1").build(), withNamespace("ns1", connB)).getStatus());
        assertStatus(Code.NOT_FOUND,
                () -> base.svc.state(StateRequest.newBuilder().setId("c1").build(), withNamespace("ns2", connB)),
                "c1");
        base.svc.kill(KillRequest.newBuilder().setId("c1").setSignal(9).build(), noMetadata(connB));
        base.svc.await(WaitRequest.newBuilder().setId("c1").build(), noMetadata(connC));
        assertEquals(137, base.svc.delete(DeleteRequest.newBuilder().setId("c1").build(), noMetadata(connA))
                .getExitStatus());
        assertStatus(Code.NOT_FOUND,
                () -> base.svc.state(StateRequest.newBuilder().setId("c1").build(), withNamespace("ns1", connB)));
    }

    @Test
    void theSameIdInTwoNamespacesWithoutMetadataIsTheTaskOfTheConnection() throws Exception {
        create("ns1", "c", noMetadata(connA));
        create("ns2", "c", noMetadata(connB));
        base.svc.start(StartRequest.newBuilder().setId("c").build(), noMetadata(connB));
        assertEquals(io.a3s.box.containerd.types.task.Status.CREATED,
                base.svc.state(StateRequest.newBuilder().setId("c").build(), noMetadata(connA)).getStatus());
        assertEquals(io.a3s.box.containerd.types.task.Status.RUNNING,
                base.svc.state(StateRequest.newBuilder().setId("c").build(), noMetadata(connB)).getStatus());
        assertStatus(Code.FAILED_PRECONDITION,
                () -> base.svc.state(StateRequest.newBuilder().setId("c").build(), noMetadata(connC)),
                "c", "several namespaces");
    }

    @Test
    void aBundleThatNamesNoNamespaceIsRefusedWhenTheCallNamesNone() throws Exception {
        Path b = Files.createDirectories(dir.resolve("elsewhere"));
        Files.writeString(b.resolve("config.json"), "{\"process\":{\"args\":[\"sleep\"]}}");
        assertStatus(Code.INVALID_ARGUMENT, () -> base.svc.create(CreateTaskRequest.newBuilder().setId("c9")
                .setBundle(b.toString()).setTerminal(true).build(), noMetadata(connA)), "c9", "namespace");
    }
}
