package io.a3s.box.shim.nativeimage;

import com.oracle.svm.core.annotate.Substitute;
import com.oracle.svm.core.annotate.TargetClass;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;

/** In the native image, {@code Linux}'s downcall handles come from {@link NativeLibc}. */
@TargetClass(className = "io.a3s.box.shim.sys.Linux")
final class Target_io_a3s_box_shim_sys_Linux {
    @Substitute
    private static MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... options) {
        return NativeLibc.handle(name, fd, options);
    }
}
