package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigInteger;
import java.util.List;
import java.util.Map;

/** {@code process.scheduler}: the sched_setattr(2) attributes. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Scheduler(
        String policy,
        Long nice,
        Long priority,
        List<String> flags,
        BigInteger runtime,
        BigInteger deadline,
        BigInteger period,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Scheduler {
        flags = Immutable.list(flags);
        extra = Immutable.extra(extra);
    }
}
