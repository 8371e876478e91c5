package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/** {@code linux.resources.blockIO}. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record BlockIo(
        Long weight,
        Long leafWeight,
        List<WeightDevice> weightDevice,
        List<ThrottleDevice> throttleReadBpsDevice,
        List<ThrottleDevice> throttleWriteBpsDevice,
        List<ThrottleDevice> throttleReadIOPSDevice,
        List<ThrottleDevice> throttleWriteIOPSDevice,
        @JsonProperty(Immutable.EXTRA) @JsonAnySetter @JsonAnyGetter Map<String, JsonNode> extra) {
    public BlockIo {
        weightDevice = Immutable.list(weightDevice);
        throttleReadBpsDevice = Immutable.list(throttleReadBpsDevice);
        throttleWriteBpsDevice = Immutable.list(throttleWriteBpsDevice);
        throttleReadIOPSDevice = Immutable.list(throttleReadIOPSDevice);
        throttleWriteIOPSDevice = Immutable.list(throttleWriteIOPSDevice);
        extra = Immutable.extra(extra);
    }
}
