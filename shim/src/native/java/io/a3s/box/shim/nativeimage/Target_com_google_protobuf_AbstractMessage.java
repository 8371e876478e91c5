package io.a3s.box.shim.nativeimage;

import com.google.protobuf.Message;
import com.oracle.svm.core.annotate.Substitute;
import com.oracle.svm.core.annotate.TargetClass;

/**
 * A protobuf message's {@code toString} in the daemons' native image: its type and size. protobuf-java prints
 * the fields through reflective calls of the generated accessors, which the image does not register
 * ({@link DaemonFeature} says why), so a message in a log line or an error would otherwise throw.
 */
@TargetClass(className = "com.google.protobuf.AbstractMessage")
final class Target_com_google_protobuf_AbstractMessage {
    @Substitute
    public String toString() {
        Message m = (Message) (Object) this;
        return m.getDescriptorForType().getFullName() + " (" + m.getSerializedSize() + " bytes)";
    }
}
