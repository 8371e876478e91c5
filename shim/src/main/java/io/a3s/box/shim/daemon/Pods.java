package io.a3s.box.shim.daemon;

import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * The pods this daemon runs: the VM of each pod's sandbox container, which the pod's other containers join.
 * A pod is registered when its sandbox is created and forgotten when the sandbox is deleted; containers still in
 * the VM then keep it until they are deleted too. Thread-safe.
 */
final class Pods {
    private final ConcurrentMap<String, SharedVm> pods = new ConcurrentHashMap<>();

    void register(SharedVm vm) throws StatusException {
        if (pods.putIfAbsent(vm.podId(), vm) != null) {
            throw Code.ALREADY_EXISTS.toException("pod sandbox %s already has a vm", vm.podId());
        }
    }

    void forget(SharedVm vm) {
        pods.remove(vm.podId(), vm);
    }

    /**
     * Joins the pod's VM, for one more container; {@link SharedVm#leave} is then due.
     *
     * @throws StatusException FAILED_PRECONDITION when the pod has no VM here
     */
    SharedVm join(String sandboxId, String containerId) throws StatusException {
        SharedVm vm = pods.get(sandboxId);
        if (vm == null || !vm.join()) {
            throw Code.FAILED_PRECONDITION.toException("container %s belongs to pod sandbox %s, which has no vm in"
                    + " this shim: create the sandbox container first", containerId, sandboxId);
        }
        return vm;
    }
}
