package io.a3s.box.shim.nativeimage;

import com.google.protobuf.Descriptors;
import com.google.protobuf.MessageLite;
import com.google.protobuf.MessageLiteOrBuilder;
import com.google.protobuf.ProtocolMessageEnum;
import org.graalvm.nativeimage.hosted.Feature;
import org.graalvm.nativeimage.hosted.RuntimeClassInitialization;
import org.graalvm.nativeimage.hosted.RuntimeReflection;
import org.graalvm.nativeimage.hosted.RuntimeResourceAccess;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarFile;

/**
 * What the daemons' native image must know when it is built, taken from the code rather than listed by hand
 * (there is no tracing agent here, and a list would drift):
 * <ul>
 * <li>the project's classes, for reflection: Jackson binds the OCI spec's records, the configuration and the
 * state files. Protobuf's generated classes only by name and members (not compiled for reflective calls, which
 * would make every builder method reachable), and their {@code getDefaultInstance} (what {@code Any.unpack}
 * calls); the same for the well-known types the project uses;</li>
 * <li>protobuf-java and the generated classes are initialized at build time: their descriptors (parsed from the
 * generated files' strings, megabytes of objects) are then part of the image, shared by every daemon that maps
 * it, instead of each daemon's own heap;</li>
 * <li>the project's resources ({@code version.properties});</li>
 * <li>{@link NativeLibc}'s methods, which {@code Linux}'s downcall handles are looked up among.</li>
 * </ul>
 * Compiled and used only by {@code scripts/build-native}.
 */
public final class DaemonFeature implements Feature {
    private static final String PROJECT = "io/a3s/box/";
    private static final List<String> PROTOBUF_TYPES = List.of("com.google.protobuf.Any",
            "com.google.protobuf.Timestamp", "com.google.protobuf.Duration", "com.google.protobuf.Empty");

    @Override
    public void afterRegistration(AfterRegistrationAccess access) {
        RuntimeClassInitialization.initializeAtBuildTime("com.google.protobuf");
    }

    @Override
    public void beforeAnalysis(BeforeAnalysisAccess access) {
        for (Path jar : access.getApplicationClassPath()) {
            if (!Files.isRegularFile(jar)) {
                continue; // this feature's own classes
            }
            try (JarFile f = new JarFile(jar.toFile())) {
                f.stream().map(e -> e.getName()).filter(n -> n.startsWith(PROJECT)).forEach(n -> {
                    if (n.endsWith(".class")) {
                        register(access.findClassByName(n.substring(0, n.length() - 6).replace('/', '.')));
                    } else if (!n.endsWith("/")) {
                        RuntimeResourceAccess.addResource(DaemonFeature.class.getModule(), n);
                    }
                });
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + jar, e);
            }
        }
        for (String name : PROTOBUF_TYPES) {
            Class<?> c = access.findClassByName(name);
            registerProtobuf(c);
            for (Class<?> nested : c.getDeclaredClasses()) {
                registerProtobuf(nested);
            }
        }
        registerFully(NativeLibc.class); // Linux's handles are looked up there
    }

    private static void register(Class<?> c) {
        if (c == null) {
            return;
        }
        if (isGenerated(c)) {
            RuntimeClassInitialization.initializeAtBuildTime(c);
            registerProtobuf(c);
        } else {
            registerFully(c);
        }
    }

    /** A class protoc generated: a message, its builder or interface, an enum, a file's class, or one nested in them. */
    private static boolean isGenerated(Class<?> c) {
        Class<?> top = c;
        while (top.getEnclosingClass() != null) {
            top = top.getEnclosingClass();
        }
        return MessageLiteOrBuilder.class.isAssignableFrom(top) || ProtocolMessageEnum.class.isAssignableFrom(top)
                || isFileClass(top);
    }

    /** The class protoc writes for a .proto file: it holds the file's descriptor. */
    private static boolean isFileClass(Class<?> c) {
        try {
            return c.getDeclaredMethod("getDescriptor").getReturnType() == Descriptors.FileDescriptor.class;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    private static void registerProtobuf(Class<?> c) {
        RuntimeReflection.register(c);
        RuntimeReflection.registerAllDeclaredMethods(c);
        RuntimeReflection.registerAllDeclaredConstructors(c);
        RuntimeReflection.registerAllDeclaredFields(c);
        if (MessageLite.class.isAssignableFrom(c)) {
            try {
                RuntimeReflection.register(c.getMethod("getDefaultInstance"));
            } catch (NoSuchMethodException e) {
                // an abstract message type
            }
        }
    }

    private static void registerFully(Class<?> c) {
        RuntimeReflection.register(c);
        RuntimeReflection.registerAllDeclaredConstructors(c);
        RuntimeReflection.registerAllDeclaredMethods(c);
        RuntimeReflection.registerAllDeclaredFields(c);
        RuntimeReflection.registerAllConstructors(c);
        RuntimeReflection.registerAllMethods(c);
        RuntimeReflection.registerAllFields(c);
        RuntimeReflection.registerAllRecordComponents(c);
        RuntimeReflection.registerAllClasses(c);
        RuntimeReflection.registerAllDeclaredClasses(c);
        RuntimeReflection.register(c.getDeclaredConstructors());
        RuntimeReflection.register(c.getDeclaredMethods());
        RuntimeReflection.register(c.getDeclaredFields());
    }
}
