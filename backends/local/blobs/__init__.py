"""Files behind AWS `S3Object{Bucket, Name}` references: on local disk or in S3.

    stores.py   BlobStore and its local-disk and S3 implementations
    bundles.py  a trained model's files in the models bucket (upload, delete, zip)
"""
