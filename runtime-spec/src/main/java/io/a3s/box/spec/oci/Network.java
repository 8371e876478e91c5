package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/** {@code linux.resources.network}: the cgroup v1 net_cls and net_prio settings. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Network(
        Long classID,
        List<InterfacePriority> priorities,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Network {
        priorities = Immutable.list(priorities);
        extra = Immutable.extra(extra);
    }
}
