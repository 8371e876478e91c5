package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/** A uid or gid range mapping (LinuxIDMapping); all three are uint32. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record IdMapping(
        Long containerID,
        Long hostID,
        Long size,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public IdMapping {
        extra = Immutable.extra(extra);
    }
}
