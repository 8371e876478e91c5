package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/** A per-device block I/O weight. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record WeightDevice(
        Long major,
        Long minor,
        Long weight,
        Long leafWeight,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public WeightDevice {
        extra = Immutable.extra(extra);
    }
}
