package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigInteger;
import java.util.Map;

/** One of {@code linux.resources.hugepageLimits}; {@code pageSize} reads like {@code 2MB}. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record HugepageLimit(
        String pageSize,
        BigInteger limit,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public HugepageLimit {
        extra = Immutable.extra(extra);
    }
}
