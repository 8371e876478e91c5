package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigInteger;
import java.util.Map;

/** A per-device block I/O rate limit. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ThrottleDevice(
        Long major,
        Long minor,
        BigInteger rate,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public ThrottleDevice {
        extra = Immutable.extra(extra);
    }
}
