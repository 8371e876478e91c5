package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/** One of {@code mounts}. A mount is a bind mount when its options hold {@code bind} or {@code rbind}. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Mount(
        String destination,
        String type,
        String source,
        List<String> options,
        List<IdMapping> uidMappings,
        List<IdMapping> gidMappings,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public Mount {
        options = Immutable.list(options);
        uidMappings = Immutable.list(uidMappings);
        gidMappings = Immutable.list(gidMappings);
        extra = Immutable.extra(extra);
    }
}
