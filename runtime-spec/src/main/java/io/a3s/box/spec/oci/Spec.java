package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/**
 * The root of {@code config.json} (runtime-spec v1.2 {@code Spec}). The other platforms' sections ({@code solaris},
 * {@code windows}, {@code vm}, {@code zos}) are not modelled and stay in {@link #extra}.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Spec(
        String ociVersion,
        Process process,
        Root root,
        String hostname,
        String domainname,
        List<Mount> mounts,
        Hooks hooks,
        Map<String, String> annotations,
        Linux linux,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Spec {
        mounts = Immutable.list(mounts);
        annotations = Immutable.map(annotations);
        extra = Immutable.extra(extra);
    }
}
