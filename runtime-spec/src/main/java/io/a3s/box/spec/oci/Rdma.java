package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/** One of {@code linux.resources.rdma}, keyed by RDMA device name. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Rdma(
        Long hcaHandles,
        Long hcaObjects,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Rdma {
        extra = Immutable.extra(extra);
    }
}
