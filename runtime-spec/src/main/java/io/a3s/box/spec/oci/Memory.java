package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigInteger;
import java.util.Map;

/** {@code linux.resources.memory}, in bytes; {@code swap} is memory plus swap, as in cgroup v1. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Memory(
        Long limit,
        Long reservation,
        Long swap,
        Long kernel,
        Long kernelTCP,
        BigInteger swappiness,
        Boolean disableOOMKiller,
        Boolean useHierarchy,
        Boolean checkBeforeUpdate,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Memory {
        extra = Immutable.extra(extra);
    }
}
