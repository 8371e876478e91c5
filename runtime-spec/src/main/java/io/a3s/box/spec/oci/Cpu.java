package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigInteger;
import java.util.Map;

/** {@code linux.resources.cpu}; times in microseconds. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Cpu(
        BigInteger shares,
        Long quota,
        BigInteger burst,
        BigInteger period,
        Long realtimeRuntime,
        BigInteger realtimePeriod,
        String cpus,
        String mems,
        Long idle,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Cpu {
        extra = Immutable.extra(extra);
    }
}
