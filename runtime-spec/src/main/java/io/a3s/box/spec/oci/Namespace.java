package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/** One of {@code linux.namespaces}: a namespace to create, or with {@code path} one to join. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Namespace(
        String type,
        String path,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Namespace {
        extra = Immutable.extra(extra);
    }
}
