package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/** {@code linux.intelRdt}: Intel RDT cache and memory-bandwidth allocation through the host's resctrl. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record IntelRdt(
        String closID,
        String schemata,
        String l3CacheSchema,
        String memBwSchema,
        Boolean enableCMT,
        Boolean enableMBM,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public IntelRdt {
        extra = Immutable.extra(extra);
    }
}
