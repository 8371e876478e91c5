package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/** One of {@code linux.devices}: a device node to create in the container. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Device(
        String path,
        String type,
        Long major,
        Long minor,
        Long fileMode,
        Long uid,
        Long gid,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Device {
        extra = Immutable.extra(extra);
    }
}
