"""Topic declarations. Names come from settings; every input topic has the same partition
count, because tables are co-partitioned with the topics that feed them."""

from __future__ import annotations

from streams.app import app, settings

website = app.topic(settings.topic_website, value_serializer="raw", key_serializer="raw",
                    partitions=settings.topic_partitions)
email = app.topic(settings.topic_email, value_serializer="raw", key_serializer="raw",
                  partitions=settings.topic_partitions)
product = app.topic(settings.topic_product, value_serializer="raw", key_serializer="raw",
                    partitions=settings.topic_partitions)
profile = app.topic(settings.topic_profile, value_serializer="raw", key_serializer="raw",
                    partitions=settings.topic_partitions)
outcomes = app.topic(settings.topic_outcomes, value_serializer="raw", key_serializer="raw",
                     partitions=settings.topic_partitions)

# All inputs as one stream: Faust subscribes to several topics in one topic set.
all_inputs = app.topic(*settings.input_topics, value_serializer="raw", key_serializer="raw",
                       partitions=settings.topic_partitions)

activity = app.topic(settings.topic_activity, value_serializer="raw", key_serializer="raw",
                     partitions=settings.topic_partitions)
