package io.a3s.box.spec.oci;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.a3s.box.spec.Limits;
import io.a3s.box.spec.SpecError;
import io.a3s.box.spec.SpecException;
import io.a3s.box.spec.SpecPath;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Reads and writes OCI runtime-spec JSON.
 *
 * <p>Reading is bounded ({@link Limits}) and strict where Go's encoding/json, which containerd uses to write the
 * file, would never produce the input: no duplicate keys, no trailing content, no string-to-number coercion. It
 * runs in two steps: the document becomes a tree (syntax and size errors stop here, with their location), then
 * {@link ShapeCheck} compares the tree with the model and reports every wrongly typed field at once, and only a
 * well-shaped tree is bound to records. Unknown fields are kept in each record's {@code extra}, so
 * {@code parse(write(spec))} equals {@code spec}.
 *
 * <p>Thread-safe: one shared, immutable mapper.
 */
public final class OciJson {
    /** A bundle's spec file, inside the bundle directory. */
    public static final String CONFIG_FILE = "config.json";

    private static final Pattern JACKSON_SOURCE =
            Pattern.compile("\\[Source: [^;\\]]*; line: (\\d+), column: (\\d+)]");
    private static final Pattern JACKSON_CONSTRAINT_NAME = Pattern.compile(", from `[^`]*`");

    private static final ObjectMapper MAPPER = JsonMapper.builder(JsonFactory.builder()
                    .streamReadConstraints(StreamReadConstraints.builder()
                            .maxDocumentLength(Limits.MAX_DOCUMENT_BYTES)
                            .maxNestingDepth(Limits.MAX_NESTING_DEPTH)
                            .maxNumberLength(Limits.MAX_NUMBER_LENGTH)
                            .maxStringLength(Limits.MAX_DOCUMENT_BYTES)
                            .build())
                    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                    .build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
            .build();

    private OciJson() {}

    /** Parses a whole {@code config.json}. */
    public static Spec parseSpec(byte[] json) throws SpecException {
        return parse(json, Spec.class);
    }

    /** Parses an exec's process, the JSON carried in {@code ExecProcessRequest.spec}. */
    public static Process parseProcess(byte[] json) throws SpecException {
        return parse(json, Process.class);
    }

    /** Parses a resource update, the JSON carried in {@code UpdateTaskRequest.resources}. */
    public static Resources parseResources(byte[] json) throws SpecException {
        return parse(json, Resources.class);
    }

    /**
     * Reads {@code path}: a {@code config.json}, or a bundle directory holding one. A file over the size limit is
     * refused before it is read.
     *
     * @throws IOException when the file cannot be read at all (missing, unreadable)
     */
    public static Spec readSpec(Path path) throws SpecException, IOException {
        return parseSpec(read(Files.isDirectory(path) ? path.resolve(CONFIG_FILE) : path));
    }

    /** Reads an exec's process JSON from a file, with the same limits as {@link #readSpec}. */
    public static Process readProcess(Path file) throws SpecException, IOException {
        return parseProcess(read(file));
    }

    private static byte[] read(Path file) throws SpecException, IOException {
        long size = Files.size(file);
        if (size > Limits.MAX_DOCUMENT_BYTES) {
            throw tooLarge(size);
        }
        try (InputStream in = Files.newInputStream(file)) {
            // The file may grow between size() and here; never read more than one byte past the limit.
            return in.readNBytes(Limits.MAX_DOCUMENT_BYTES + 1);
        }
    }

    /** Compact JSON, as containerd writes it. */
    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a model record failed to serialize", e);
        }
    }

    /** Indented JSON, for people. */
    public static String writePretty(Object value) {
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a model record failed to serialize", e);
        }
    }

    private static <T extends Record> T parse(byte[] json, Class<T> type) throws SpecException {
        if (json.length > Limits.MAX_DOCUMENT_BYTES) {
            throw tooLarge(json.length);
        }
        JsonNode tree;
        // Our own parser, not readTree(byte[]): constraint violations do not name their parser, and the path of
        // an error comes from the parser's position.
        try (JsonParser parser = MAPPER.createParser(json)) {
            try {
                tree = MAPPER.readTree(parser);
            } catch (JsonProcessingException e) {
                throw new SpecException(new SpecError(pathOf(parser).toString(), describe(e)));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading from memory failed", e);
        }
        if (tree == null || tree.isMissingNode()) {
            throw new SpecException(new SpecError(SpecPath.ROOT.toString(), "the document is empty"));
        }
        List<SpecError> errors = ShapeCheck.check(tree, type);
        if (!errors.isEmpty()) {
            throw new SpecException(errors);
        }
        try {
            return MAPPER.treeToValue(tree, type);
        } catch (JsonProcessingException e) {
            // ShapeCheck accepts only trees that bind; reaching here is a bug in ShapeCheck, not bad input.
            throw new IllegalStateException("a shape-checked document failed to bind: " + e.getMessage(), e);
        }
    }

    private static SpecException tooLarge(long size) {
        return new SpecException(new SpecError(SpecPath.ROOT.toString(),
                "the document is " + size + " bytes, more than the " + Limits.MAX_DOCUMENT_BYTES + " allowed"));
    }

    /** Where the parser stood when it failed, as a spec path. */
    private static SpecPath pathOf(JsonParser parser) {
        Deque<JsonStreamContext> chain = new ArrayDeque<>();
        for (JsonStreamContext c = parser.getParsingContext(); c != null && !c.inRoot(); c = c.getParent()) {
            chain.push(c);
        }
        SpecPath path = SpecPath.ROOT;
        for (JsonStreamContext c : chain) {
            if (c.inArray()) {
                path = path.index(Math.max(c.getCurrentIndex(), 0));
            } else if (c.getCurrentName() != null) {
                path = path.field(c.getCurrentName());
            }
        }
        return path;
    }

    /** Jackson's message without its Java-facing noise (source descriptions, constraint method names). */
    private static String describe(JsonProcessingException e) {
        String message = e.getOriginalMessage();
        message = JACKSON_SOURCE.matcher(message).replaceAll("[line $1, column $2]");
        message = JACKSON_CONSTRAINT_NAME.matcher(message).replaceAll("");
        if (e.getLocation() != null && e.getLocation().getLineNr() > 0) {
            message += " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
        }
        return "invalid JSON: " + message;
    }
}
