package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigInteger;
import java.util.Map;

/** One of {@code process.rlimits} (POSIXRlimit). Limits are uint64: {@code RLIM_INFINITY} is 2^64-1. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Rlimit(
        String type,
        BigInteger hard,
        BigInteger soft,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Rlimit {
        extra = Immutable.extra(extra);
    }
}
