package io.a3s.box.spec;

import java.util.regex.Pattern;

/**
 * A location in a spec document, built while walking it and rendered only when a problem is reported.
 *
 * <p>Rendering: fields join with dots, array elements take {@code [i]}, and map keys that are not plain identifiers
 * (sysctl names, annotation keys) are quoted: {@code linux.sysctl["net.ipv4.ip_forward"]}. The document itself is
 * {@code $}.
 */
public final class SpecPath {
    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    /** The document root. */
    public static final SpecPath ROOT = new SpecPath(null, null, -1);

    private final SpecPath parent;
    private final String name; // field name or map key; null for an array index or the root
    private final int index;

    private SpecPath(SpecPath parent, String name, int index) {
        this.parent = parent;
        this.name = name;
        this.index = index;
    }

    /** A field of the object at this path; also used for map keys, which render quoted when needed. */
    public SpecPath field(String fieldName) {
        return new SpecPath(this, fieldName, -1);
    }

    /** An element of the array at this path. */
    public SpecPath index(int i) {
        return new SpecPath(this, null, i);
    }

    @Override
    public String toString() {
        if (parent == null) {
            return "$";
        }
        StringBuilder out = new StringBuilder();
        render(out);
        return out.toString();
    }

    private void render(StringBuilder out) {
        if (parent == null) {
            return;
        }
        parent.render(out);
        if (name == null) {
            out.append('[').append(index).append(']');
        } else if (IDENTIFIER.matcher(name).matches()) {
            if (parent.parent != null) {
                out.append('.');
            }
            out.append(name);
        } else {
            out.append("[\"").append(name.replace("\\", "\\\\").replace("\"", "\\\"")).append("\"]");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SpecPath other && toString().equals(other.toString());
    }

    @Override
    public int hashCode() {
        return toString().hashCode();
    }
}
