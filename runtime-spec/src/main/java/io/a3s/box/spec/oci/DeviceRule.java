package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/** One of {@code linux.resources.devices} (LinuxDeviceCgroup): an allow or deny rule of the device controller. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DeviceRule(
        Boolean allow,
        String type,
        Long major,
        Long minor,
        String access,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public DeviceRule {
        extra = Immutable.extra(extra);
    }
}
