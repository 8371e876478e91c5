package io.a3s.box.shim.task;

import com.google.protobuf.Any;
import io.a3s.box.guest.v1.CgroupResources;
import io.a3s.box.guest.v1.ProcessSpec;
import io.a3s.box.ttrpc.StatusException;

/** The OCI JSON that containerd sends inside task calls, turned into what the guest agent takes. */
public interface SpecConverter {
    /** ExecProcessRequest.spec: an OCI Process as JSON ({@code types.containerd.io/.../Process}). */
    ProcessSpec execProcess(String containerId, Any spec) throws StatusException;

    /** UpdateTaskRequest.resources: OCI LinuxResources as JSON ({@code .../LinuxResources}). */
    CgroupResources resources(String containerId, Any resources) throws StatusException;
}
