"""MQTT: the local broker side of the device (paho lives only in `client.py`)."""
