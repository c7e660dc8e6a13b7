"""What the API's routes need beyond Powertools: request bodies and their encodings."""
