package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/** {@code process.consoleSize} (the spec's {@code Box}), in character cells. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ConsoleSize(
        Long height,
        Long width,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public ConsoleSize {
        extra = Immutable.extra(extra);
    }
}
