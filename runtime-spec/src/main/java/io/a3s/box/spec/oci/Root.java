package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/** {@code root}: the container's root filesystem on the host; a relative path is relative to the bundle. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Root(
        String path,
        Boolean readonly,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Root {
        extra = Immutable.extra(extra);
    }
}
