package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigInteger;
import java.util.Map;

/** An argument condition of a seccomp rule; {@code value} and {@code valueTwo} are uint64. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SeccompArg(
        Long index,
        BigInteger value,
        BigInteger valueTwo,
        String op,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public SeccompArg {
        extra = Immutable.extra(extra);
    }
}
