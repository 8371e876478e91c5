package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/** A net_prio priority for one network interface. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record InterfacePriority(
        String name,
        Long priority,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public InterfacePriority {
        extra = Immutable.extra(extra);
    }
}
