package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/** {@code process.ioPriority}: the ioprio_set(2) class and level. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record IoPriority(
        @JsonProperty("class") String ioClass,
        Long priority,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public IoPriority {
        extra = Immutable.extra(extra);
    }
}
