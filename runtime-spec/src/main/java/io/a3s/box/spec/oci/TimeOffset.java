package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/** One of {@code linux.timeOffsets}, keyed by clock ({@code boottime}, {@code monotonic}). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record TimeOffset(
        Long secs,
        Long nanosecs,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public TimeOffset {
        extra = Immutable.extra(extra);
    }
}
