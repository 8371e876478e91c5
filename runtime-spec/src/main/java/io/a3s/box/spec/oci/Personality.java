package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/** {@code linux.personality}: the personality(2) execution domain. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Personality(
        String domain,
        List<String> flags,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Personality {
        flags = Immutable.list(flags);
        extra = Immutable.extra(extra);
    }
}
